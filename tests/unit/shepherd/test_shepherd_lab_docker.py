"""`Lab.up` and `Lab.down` against a fake docker: what they create, reuse, refuse and remove."""

import subprocess
from pathlib import Path

import pytest

from shepherd.lab import Lab, LabError, LabSpec, lab as lab_module
from shepherd.lab.hostdef import load_definition

SHARED = Path(__file__).resolve().parents[3] / "molecule" / "_shared" / "host.yml"


class FakeDocker:
    """Just enough of the docker command line: images, networks, containers and volumes with labels."""

    def __init__(self):
        self.images = {"shepherd/host:debian12", "shepherd/host:debian13"}
        self.networks = {}  # name -> (labels, subnet)
        self.containers = {}  # name -> (labels, running)
        self.volumes = {}  # name -> labels
        self.commands = []

    def inspect(self, kind, name):
        if kind == "image":
            return {} if name in self.images else None
        if kind == "network" and name in self.networks:
            labels, subnet = self.networks[name]
            return {"Labels": labels, "IPAM": {"Config": [{"Subnet": subnet}]}}
        if kind == "container" and name in self.containers:
            labels, running = self.containers[name]
            return {"Config": {"Labels": labels, "Image": "img"}, "State": {"Running": running, "Status": "running"}}
        return None

    def names_with_label(self, kind, label):
        key, value = label.split("=", 1)
        objects = {"container": {n: c[0] for n, c in self.containers.items()},
                   "network": {n: v[0] for n, v in self.networks.items()}, "volume": self.volumes}[kind]  # fmt: skip
        return sorted(name for name, labels in objects.items() if labels.get(key) == value)

    def docker(self, *args, timeout=120):
        self.commands.append(args)
        if args[:2] == ("network", "create"):
            labels = dict([args[args.index("--label") + 1].split("=", 1)])
            self.networks[args[-1]] = (labels, args[args.index("--subnet") + 1])
        elif args[0] == "run":
            labels = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--label")
            self.containers[args[args.index("--name") + 1]] = (labels, True)
            self.volumes[f"vol-{len(self.volumes)}"] = {"shepherd.lab": labels["shepherd.lab"]}
        elif args[0] == "start":
            self.containers[args[1]] = (self.containers[args[1]][0], True)
        elif args[0] == "rm":
            for name in args[3:]:
                del self.containers[name]
        elif args[:2] == ("volume", "rm"):
            for name in args[3:]:
                del self.volumes[name]
        elif args[:2] == ("network", "rm"):
            for name in args[2:]:
                del self.networks[name]
        return ""

    def run(self, *args, timeout=120):
        return subprocess.CompletedProcess(args, 0, stdout="running\n", stderr="")


@pytest.fixture(name="fake")
def fixture_fake(monkeypatch):
    fake = FakeDocker()
    for name in ("inspect", "names_with_label", "docker", "run"):
        monkeypatch.setattr(lab_module.docker, name, getattr(fake, name))
    return fake


def make_lab(tmp_path, **sizes):
    spec = LabSpec(name="t", subnet="10.50.0.0/24", **{"agents": 1, "devices": 1, **sizes})
    return Lab(spec, tmp_path / "hosts.yml", definition=load_definition(SHARED))


def test_up_creates_then_reuses_and_starts_what_is_stopped(fake, tmp_path):
    first = make_lab(tmp_path).up()
    assert first.network_created and first.created == ["master1", "agent1", "device1"] and first.inventory_changed
    run = next(c for c in fake.commands if c[0] == "run" and "t-master1" in c)
    assert ("--ip", "10.50.0.11") == run[run.index("--ip"):run.index("--ip") + 2]
    assert "--pull" in run and run[run.index("--pull") + 1] == "never"
    assert "--device" not in run
    agent_run = next(c for c in fake.commands if c[0] == "run" and "t-agent1" in c)
    assert ("--device", "/dev/fuse") == agent_run[agent_run.index("--device"):agent_run.index("--device") + 2]
    fake.containers["t-agent1"] = (fake.containers["t-agent1"][0], False)
    second = make_lab(tmp_path).up()
    assert not second.network_created and second.created == [] and not second.inventory_changed
    assert (second.reused, second.started) == (["master1", "device1"], ["agent1"])


def test_up_reports_hosts_beyond_the_current_sizes(fake, tmp_path):
    make_lab(tmp_path, agents=2).up()
    report = make_lab(tmp_path, agents=1).up()
    assert report.extra == ["t-agent2"] and report.created == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda f: f.images.discard("shepherd/host:debian13"), "image shepherd/host:debian13 is missing"),
        (lambda f: f.networks.update(t=({}, "10.50.0.0/24")), "network named t exists and is not this lab's"),
        (lambda f: f.networks.update(t=({"shepherd.lab": "t"}, "10.60.0.0/24")), "has subnet 10.60.0.0/24"),
        (lambda f: f.containers.update({"t-master1": ({}, True)}), "container named t-master1 exists and is not"),
        (
            lambda f: f.containers.update({"t-master1": ({"shepherd.lab": "t", "shepherd.lab.address": "10.9.9.9"}, True)}),
            "has address 10.9.9.9",
        ),
    ],
)
def test_up_refuses_what_it_did_not_make(fake, tmp_path, setup, message):
    setup(fake)
    with pytest.raises(LabError, match=message):
        make_lab(tmp_path).up()
    assert not any(command[0] in ("run", "start", "rm") for command in fake.commands)
    assert not (tmp_path / "hosts.yml").exists()


def test_down_removes_only_what_carries_the_labs_label(fake, tmp_path):
    make_lab(tmp_path).up()
    fake.containers["molecule-host"] = ({"shepherd.molecule": "docker"}, True)
    fake.containers["other-lab-master1"] = ({"shepherd.lab": "other"}, True)
    fake.volumes["precious"] = {}
    fake.networks["molecule-docker"] = ({"shepherd.molecule": "docker"}, "10.1.0.0/24")
    report = make_lab(tmp_path).down()
    assert report.containers == ["t-agent1", "t-device1", "t-master1"] and report.networks == ["t"]
    assert report.inventory_removed and not (tmp_path / "hosts.yml").exists()
    assert set(fake.containers) == {"molecule-host", "other-lab-master1"}
    assert set(fake.volumes) == {"precious"} and set(fake.networks) == {"molecule-docker"}


def test_a_bad_layout_is_refused_before_docker_is_asked(fake, tmp_path):
    with pytest.raises(LabError, match="masters"):
        make_lab(tmp_path, masters=12).up()
    assert fake.commands == []


def test_status_lists_hosts_by_group_and_number(fake, tmp_path):
    make_lab(tmp_path, masters=2, agents=1, devices=10).up()
    hosts, endpoints = make_lab(tmp_path).status(probe=False)
    assert [h.name for h in hosts][:4] == ["master1", "master2", "agent1", "device1"]
    assert [h.name for h in hosts][-2:] == ["device9", "device10"] and endpoints == []
    assert {(h.group, h.state, h.systemd) for h in hosts[:1]} == {("masters", "running", "running")}


def test_a_subnet_in_use_is_named_with_the_way_out(fake, tmp_path, monkeypatch):
    def refuse(*args, timeout=120):
        raise lab_module.docker.DockerError("docker network create failed: Pool overlaps with other one on this address space")

    monkeypatch.setattr(lab_module.docker, "docker", refuse)
    with pytest.raises(LabError, match="Pool overlaps.*--subnet"):
        make_lab(tmp_path).up()


def test_boot_wait_asks_again_while_systemd_is_not_up_yet(monkeypatch):
    answers = iter(["Failed to connect to bus: No such file or directory", "offline", "starting", "running"])

    def systemctl(*args, timeout=120):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr=next(answers))

    monkeypatch.setattr(lab_module.docker, "run", systemctl)
    monkeypatch.setattr(lab_module.time, "sleep", lambda seconds: None)
    assert lab_module.boot_state("c", lab_module.time.monotonic() + 60) == "running"


@pytest.mark.parametrize(
    ("returncode", "stdout", "release"),
    [
        (0, '{"running": {"release": "2.0", "sequence": 2}}', "2.0"),
        (0, '{"running": null}', "none"),  # the agent runs, no release applied yet
        (1, "", "?"),  # no agent
        (0, "not json", "?"),
    ],
)
def test_device_release_reads_the_ota_agents_status(monkeypatch, returncode, stdout, release):
    seen = []

    def run(*args, timeout=120):
        seen.append(args)
        return subprocess.CompletedProcess(args, returncode, stdout=stdout, stderr="")

    monkeypatch.setattr(lab_module.docker, "run", run)
    assert lab_module.device_release("lab-device1") == release
    assert seen == [("exec", "lab-device1", "ota-agent", "--json", "status")]
