# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's per-host Docker ranges (roles/flat_bridge/vars/main.yml, templated by ansible-core as in a play)
and the checks of tasks/validate.yml: every host of the group gets its own slice of the pool, never the host's
or the gateway's address, and bad settings are refused."""

import ipaddress
import os

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from role_templates import trusted

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "flat_bridge")
LOADER = DataLoader()


ROLE_VARS = {}
for _part in ("defaults", "vars"):
    ROLE_VARS.update(trusted(LOADER.load_from_file(os.path.join(ROLE, _part, "main.yml"))))
VALIDATE = LOADER.load_from_file(os.path.join(ROLE, "tasks", "validate.yml"))


def host_vars(host, hosts=("dc1-c", "dc1-a", "dc1-b"), address="10.0.0.12", **settings):
    variables = dict(ROLE_VARS)
    variables.update({
        "groups": {"flat_bridge": list(hosts)}, "inventory_hostname": host, "ansible_local": {},
        "ansible_facts": {"default_ipv4": {"interface": "eth0", "address": address, "prefix": "16", "gateway": "10.0.0.1",
                                           "broadcast": "10.0.255.255"},
                          "eth0": {"macaddress": "02:42:0a:00:00:0c"}, "distribution_major_version": "12"},
        "flat_bridge_docker_pool": "10.0.255.0/24",
    })
    variables.update(settings)
    return Templar(loader=LOADER, variables=variables)


def render(templar, name):
    return templar.template(trust_as_template("{{ %s }}" % name))


def failed_checks(templar):
    """Names of the validate.yml asserts that would fail for this host."""
    failed = []
    for task in VALIDATE:
        when = task.get("when")
        if when and not templar.evaluate_conditional(trust_as_template(when)):
            continue
        for condition in task["ansible.builtin.assert"]["that"]:
            if not templar.evaluate_conditional(trust_as_template(condition)):
                failed.append(task["name"])
                break
    return failed


def test_each_host_gets_its_slice_by_sorted_name():
    ranges = {host: render(host_vars(host), "__flat_bridge_docker_range") for host in ("dc1-a", "dc1-b", "dc1-c")}
    assert ranges == {"dc1-a": "10.0.255.0/27", "dc1-b": "10.0.255.32/27", "dc1-c": "10.0.255.64/27"}


def test_the_slices_of_a_full_pool_are_disjoint_and_inside_it():
    hosts = ["node%02d" % n for n in range(16)]
    slices = [ipaddress.ip_network(render(host_vars(h, hosts=hosts, flat_bridge_docker_range_prefix=28), "__flat_bridge_docker_range"))
              for h in hosts]
    pool = ipaddress.ip_network("10.0.255.0/24")
    assert all(s.subnet_of(pool) for s in slices)
    assert len({s.network_address for s in slices}) == 16
    assert not any(a.overlaps(b) for i, a in enumerate(slices) for b in slices[i + 1:])


def test_a_fixed_host_index_wins_over_the_position():
    templar = host_vars("dc1-a", flat_bridge_host_index=5)
    assert render(templar, "__flat_bridge_docker_range") == "10.0.255.160/27"


def test_the_network_is_the_bridges_subnet_with_the_real_gateway():
    templar = host_vars("dc1-b")
    assert render(templar, "__flat_bridge_docker_subnet") == "10.0.0.0/16"
    assert render(templar, "__flat_bridge_docker_gateway") == "10.0.0.1"
    assert failed_checks(templar) == []


def test_vxlan_mode_uses_the_overlay_subnet_and_the_hosts_own_overlay_address_as_gateway():
    peers = {"dc1-a": "192.0.2.11", "dc1-b": "192.0.2.12", "dc1-c": "192.0.2.13"}
    templar = host_vars("dc1-b", flat_bridge_mode="vxlan", flat_bridge_vxlan_address="10.213.65.12/24",
                        flat_bridge_docker_pool="10.213.65.128/25",
                        hostvars={h: {"flat_bridge_vxlan_underlay_address": a} for h, a in peers.items()})
    assert render(templar, "__flat_bridge_docker_subnet") == "10.213.65.0/24"
    assert render(templar, "__flat_bridge_docker_range") == "10.213.65.160/27"
    assert render(templar, "__flat_bridge_docker_gateway") == "10.213.65.12"
    assert render(templar, "__flat_bridge_vxlan_peers") == ["192.0.2.11", "192.0.2.13"]
    assert failed_checks(templar) == []


@pytest.mark.parametrize("settings, check", [
    ({"flat_bridge_docker_pool": "10.1.0.0/24"}, "Check that the host's slice lies in the bridge's subnet and holds no host or gateway address"),
    ({"flat_bridge_docker_pool": "10.0.0.0/24"}, "Check that the host's slice lies in the bridge's subnet and holds no host or gateway address"),
    ({"flat_bridge_docker_pool": "10.0.255.0"}, "Check the Docker network's address pool"),
    ({"flat_bridge_host_index": 8}, "Check the Docker network's address pool"),
    ({"flat_bridge_docker_range_prefix": 23}, "Check the Docker network's address pool"),
    ({"flat_bridge_mode": "flat"}, "Check the mode and the Docker driver"),
    ({"flat_bridge_docker_driver": "ipvlan"}, "Check the mode and the Docker driver"),
    ({"flat_bridge_gateway": "10.0.0.300"}, "Check the uplink, address and gateway (bridge mode)"),
    ({"flat_bridge_address": "10.0.0.12"}, "Check the uplink, address and gateway (bridge mode)"),
])
def test_bad_settings_are_refused_by_the_check_that_names_them(settings, check):
    assert check in failed_checks(host_vars("dc1-a", **settings))


def test_a_slice_holding_the_hosts_own_address_is_refused():
    # dc1-a has slice 0 = 10.0.255.0/27; put its address in there
    assert failed_checks(host_vars("dc1-a", address="10.0.255.7")) == [
        "Check that the host's slice lies in the bridge's subnet and holds no host or gateway address"]


def test_a_host_outside_the_group_is_refused():
    assert "Check the Docker network's address pool" in failed_checks(host_vars("dc1-z"))
