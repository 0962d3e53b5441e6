"""The lab's layout (names, fixed addresses, groups) and its inventory file, without Docker."""

import pytest
import yaml

from shepherd.lab import LabSpec
from shepherd.lab.inventory import remove_inventory, render_inventory, write_inventory


def test_default_lab_is_small_and_at_fixed_addresses_on_its_own_subnet():
    spec = LabSpec()
    assert [(h.name, h.group, h.address, h.image, h.devices) for h in spec.hosts()] == [
        ("master1", "masters", "172.30.77.11", "shepherd/host:debian12", ()),
        ("agent1", "agents", "172.30.77.21", "shepherd/host:debian12", ("/dev/fuse",)),
        ("agent2", "agents", "172.30.77.22", "shepherd/host:debian12", ("/dev/fuse",)),
        ("device1", "devices", "172.30.77.101", "shepherd/host:debian13", ()),
        ("device2", "devices", "172.30.77.102", "shepherd/host:debian13", ()),
    ]
    assert spec.hosts()[0].container("shepherd-lab") == "shepherd-lab-master1"
    assert spec.gateway == "172.30.77.1" and spec.label == "shepherd.lab=shepherd-lab"


def test_each_group_keeps_its_addresses_when_another_grows():
    small = {h.name: h.address for h in LabSpec(masters=1, agents=1, storage=1, devices=1).hosts()}
    big = {h.name: h.address for h in LabSpec(masters=3, agents=2, storage=3, devices=2, subnet="10.9.0.0/16").hosts()}
    assert small == {"master1": "172.30.77.11", "agent1": "172.30.77.21", "storage1": "172.30.77.31", "device1": "172.30.77.101"}
    assert big["master3"] == "10.9.0.13" and big["agent2"] == "10.9.0.22" and big["storage3"] == "10.9.0.33"
    assert big["device2"] == "10.9.0.102" and len(big) == 10


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (LabSpec(name="bad name"), "name"),
        (LabSpec(name="-x"), "name"),
        (LabSpec(masters=0, agents=0, storage=0, devices=0), "at least one host"),
        (LabSpec(devices=-1), "devices"),
        (LabSpec(masters=10), "masters"),
        (LabSpec(agents=10), "agents"),
        (LabSpec(storage=10), "storage"),
        (LabSpec(devices=100), "devices"),
        (LabSpec(subnet="172.30.77.0/25"), "subnet"),
        (LabSpec(subnet="172.30.77.5/24"), "subnet"),
        (LabSpec(subnet="lab"), "subnet"),
    ],
)
def test_impossible_labs_are_refused_naming_the_field(spec, field):
    with pytest.raises(ValueError, match=field):
        spec.validate()


def test_sizes_from_the_environment_and_a_bad_one_named(monkeypatch):
    monkeypatch.setenv("SHEPHERD_LAB_MASTERS", "3")
    monkeypatch.setenv("SHEPHERD_LAB_SUBNET", "10.1.2.0/24")
    spec = LabSpec.from_env()
    assert (spec.masters, spec.agents, spec.subnet) == (3, 2, "10.1.2.0/24")
    monkeypatch.setenv("SHEPHERD_LAB_AGENTS", "two")
    with pytest.raises(ValueError, match="SHEPHERD_LAB_AGENTS='two'"):
        LabSpec.from_env()


def test_inventory_reaches_hosts_through_docker_and_has_the_example_groups():
    spec = LabSpec(name="t", masters=3, agents=2, storage=0, devices=2, subnet="10.9.0.0/24")
    text = render_inventory(spec)
    assert text.startswith("# Written by `shepherd lab up` for lab t:")
    data = yaml.safe_load(text)["all"]
    # `docker`: community.docker.docker for plain Ansible (container from ansible_docker_host), Mitogen's own
    # under Mitogen (container from ansible_ssh_host; as root, so it does not reach for sudo).
    assert (data["vars"]["ansible_connection"], data["vars"]["ansible_user"]) == ("docker", "root")
    assert data["hosts"]["agent2"] == {
        "ansible_host": "10.9.0.22", "ansible_docker_host": "t-agent2", "ansible_ssh_host": "t-agent2"
    }  # fmt: skip
    datacenter = data["children"]["datacenter"]["children"]
    assert list(datacenter) == ["masters", "agents", "storage"]
    assert list(datacenter["masters"]["hosts"]) == ["master1", "master2", "master3"]
    assert list(datacenter["agents"]["hosts"]) == ["agent1", "agent2"]
    assert datacenter["storage"]["hosts"] == {}  # empty, but there: `hosts: storage` matches nothing, quietly
    assert list(data["children"]["devices"]["hosts"]) == ["device1", "device2"]


def test_ansible_reads_the_inventory_as_intended(tmp_path):
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    path = tmp_path / "hosts.yml"
    write_inventory(path, LabSpec(name="t", masters=1, agents=1, storage=1, devices=1))
    inventory = InventoryManager(loader=DataLoader(), sources=[str(path)])
    assert [h.name for h in inventory.get_hosts("datacenter")] == ["master1", "agent1", "storage1"]
    assert [h.name for h in inventory.get_hosts("devices")] == ["device1"]
    host = inventory.get_host("storage1").get_vars()
    assert (host["ansible_host"], host["ansible_docker_host"]) == ("172.30.77.31", "t-storage1")


def test_inventory_is_rewritten_only_when_it_changes_and_removed_only_by_its_lab(tmp_path):
    path = tmp_path / "lab" / "hosts.yml"
    spec = LabSpec(name="t")
    assert write_inventory(path, spec) is True
    assert write_inventory(path, spec) is False
    assert write_inventory(path, LabSpec(name="t", agents=3)) is True
    assert remove_inventory(path, LabSpec(name="other")) is False and path.exists()
    assert remove_inventory(path, spec) is True and not path.exists()
    assert remove_inventory(path, spec) is False
    path.write_text("all: {}\n")
    assert remove_inventory(path, spec) is False and path.exists()
