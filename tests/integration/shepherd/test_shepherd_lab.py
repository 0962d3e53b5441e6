"""The lab for real: `shepherd lab up` (twice) with a one-host lab, playbooks through the API and the CLI against
it, `lab status`, and `lab down` leaving nothing labelled behind. Needs a Docker engine and the host image."""

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import shepherd
from shepherd.lab import docker

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
# Its own name, and a subnet no Docker network uses (not the default lab's 172.30.77.0/24), so that it can run
# beside a lab and beside another run of this test.
LAB = f"shepherd-it-{os.getpid()}"
LABEL = f"shepherd.lab={LAB}"


def free_subnet():
    """SHEPHERD_IT_LAB_SUBNET, else the first 172.30.N.0/24 (N from 79) that no Docker network overlaps."""
    if os.environ.get("SHEPHERD_IT_LAB_SUBNET"):
        return os.environ["SHEPHERD_IT_LAB_SUBNET"]
    used = []
    for name in docker.docker("network", "ls", "--format", "{{.Name}}").split():
        for config in ((docker.inspect("network", name) or {}).get("IPAM") or {}).get("Config") or []:
            if ":" not in str(config.get("Subnet", ":")):
                used.append(ipaddress.ip_network(config["Subnet"], strict=False))
    for third in range(79, 255):
        candidate = ipaddress.ip_network(f"172.30.{third}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return str(candidate)
    raise RuntimeError("no free 172.30.N.0/24 subnet: set SHEPHERD_IT_LAB_SUBNET")


def docker_skip_reason():
    if not docker.engine_answers():
        return "no Docker engine answers (`docker version` fails): the lab needs one"
    if docker.inspect("image", "shepherd/host:debian12") is None:
        return "image shepherd/host:debian12 is missing: scripts/setup.sh builds it"
    return None


pytestmark = pytest.mark.skipif(docker_skip_reason() is not None, reason=str(docker_skip_reason()))


def shepherd_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "shepherd", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
    )  # fmt: skip


def labelled():
    return {kind: docker.names_with_label(kind, LABEL) for kind in ("container", "network", "volume")}


def lab_up(tmp_path, inventory_dir, subnet, *options):
    """`lab up` of a one-host lab that converges with the clean playbook; its JSON lines (the lab line first)."""
    done = shepherd_cli(
        "lab", "up", "--name", LAB, "--subnet", subnet, "--masters", 1, "--agents", 0, "--storage", 0,
        "--devices", 0, "--inventory-dir", inventory_dir, "--playbook", PLAYBOOKS / "clean.yml", "--json", *options,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[0]["type"] == "lab"
    return records


def test_lab_up_twice_run_and_down_leaves_nothing(tmp_path):
    inventory_dir = tmp_path / "lab"
    inventory = inventory_dir / "hosts.yml"
    try:
        subnet = free_subnet()
        records = lab_up(tmp_path, inventory_dir, subnet)
        first, converge = records[0], records[-1]
        assert first["created"] == ["master1"] and first["network_created"] and first["inventory_changed"]
        assert converge["type"] == "result" and converge["status"] == "successful"
        assert converge["hosts"]["master1"]["changed"] == 1
        found = labelled()
        assert found["container"] == [f"{LAB}-master1"] and found["network"] == [LAB] and len(found["volume"]) == 1

        [second] = lab_up(tmp_path, inventory_dir, subnet, "--no-converge")
        assert second["created"] == [] and second["reused"] == ["master1"]
        assert not second["network_created"] and not second["inventory_changed"]
        assert labelled() == found

        # The API against the lab host: the host answers from its fixed address, a failure is named.
        clean = shepherd.run(PLAYBOOKS / "clean.yml", inventory, extra_vars={"clean_marker_path": "/root/marker"})
        assert clean.ok and clean.hosts["master1"] == shepherd.HostStats(ok=2, changed=1, skipped=1)
        failing = shepherd.run(PLAYBOOKS / "failing.yml", inventory, limit="masters")
        assert failing.status == "failed" and failing.failed_hosts == ["master1"]
        [task] = failing.failed_tasks
        assert (task.host, task.task) == ("master1", "Break on purpose") and "disk on fire" in task.message
        address = docker.docker("exec", f"{LAB}-master1", "hostname", "-I").split()
        assert subnet.rsplit(".", 1)[0] + ".11" in address

        status = shepherd_cli("lab", "status", "--name", LAB, "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        [host] = json.loads(status.stdout)["hosts"]
        assert (host["name"], host["group"], host["state"]) == ("master1", "masters", "running")
        assert host["systemd"] in ("running", "degraded")
    finally:
        down = shepherd_cli("lab", "down", "--name", LAB, "--inventory-dir", inventory_dir, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert labelled() == {"container": [], "network": [], "volume": []}
    assert not inventory.exists()
