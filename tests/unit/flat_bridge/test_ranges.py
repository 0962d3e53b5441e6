# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's per-host Docker ranges (roles/flat_bridge/vars/main.yml fed to the filter
shepherd.fleet.flat_bridge_plan, templated by ansible-core as in a play) and the checks of tasks/validate.yml:
every host of the group gets its own slice of the pool, never the host's or the gateway's address, and bad
settings are refused with a sentence that names the variable to fix."""

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
        "groups": {"flat_bridge": list(hosts)}, "inventory_hostname": host,
        "ansible_facts": {"default_ipv4": {"interface": "eth0", "address": address, "prefix": "16", "gateway": "10.0.0.1",
                                           "broadcast": "10.0.255.255"},
                          "eth0": {"macaddress": "02:42:0a:00:00:0c"}, "distribution_major_version": "12"},
        "flat_bridge_docker_pool": "10.0.255.0/24",
    })
    variables.update(settings)
    return Templar(loader=LOADER, variables=variables)


def render(templar, name):
    return templar.template(trust_as_template("{{ %s }}" % name))


def plan(templar):
    """The fact tasks/validate.yml sets, as the role's set_fact task renders it."""
    task = next(task for task in VALIDATE if "ansible.builtin.set_fact" in task)
    return templar.template(trust_as_template(task["ansible.builtin.set_fact"]["__flat_bridge_plan"]))


def failed_checks(templar):
    """The checks of validate.yml that fail for this host: the name of a failed assert without the plan (the mode
    and driver), else the plan's error sentences."""
    failed = []
    for task in VALIDATE:
        conditions = task.get("ansible.builtin.assert", {}).get("that", [])
        if isinstance(conditions, list) and not all(templar.evaluate_conditional(trust_as_template(c)) for c in conditions):
            failed.append(task["name"])
    return failed + plan(templar)["errors"]


def test_each_host_gets_its_slice_by_sorted_name():
    ranges = {host: plan(host_vars(host))["docker_range"] for host in ("dc1-a", "dc1-b", "dc1-c")}
    assert ranges == {"dc1-a": "10.0.255.0/27", "dc1-b": "10.0.255.32/27", "dc1-c": "10.0.255.64/27"}


def test_the_slices_of_a_full_pool_are_disjoint_and_inside_it():
    hosts = ["node%02d" % n for n in range(16)]
    slices = [ipaddress.ip_network(plan(host_vars(h, hosts=hosts, flat_bridge_docker_range_prefix=28))["docker_range"])
              for h in hosts]
    pool = ipaddress.ip_network("10.0.255.0/24")
    assert all(s.subnet_of(pool) for s in slices)
    assert len({s.network_address for s in slices}) == 16
    assert not any(a.overlaps(b) for i, a in enumerate(slices) for b in slices[i + 1:])


def test_a_fixed_host_index_wins_over_the_position():
    assert plan(host_vars("dc1-a", flat_bridge_host_index=5))["docker_range"] == "10.0.255.160/27"


def test_the_network_is_the_bridges_subnet_with_the_real_gateway():
    templar = host_vars("dc1-b")
    assert plan(templar) == {"errors": [], "docker_subnet": "10.0.0.0/16", "docker_range": "10.0.255.32/27",
                             "docker_gateway": "10.0.0.1"}
    assert failed_checks(templar) == []


def test_vxlan_mode_uses_the_overlay_subnet_and_the_hosts_own_overlay_address_as_gateway():
    peers = {"dc1-a": "192.0.2.11", "dc1-b": "192.0.2.12", "dc1-c": "192.0.2.13"}
    templar = host_vars("dc1-b", flat_bridge_mode="vxlan", flat_bridge_vxlan_address="10.213.65.12/24",
                        flat_bridge_docker_pool="10.213.65.128/25",
                        hostvars={h: {"flat_bridge_vxlan_underlay_address": a} for h, a in peers.items()})
    assert plan(templar) == {"errors": [], "docker_subnet": "10.213.65.0/24", "docker_range": "10.213.65.160/27",
                             "docker_gateway": "10.213.65.12"}
    assert render(templar, "__flat_bridge_vxlan_peers") == ["192.0.2.11", "192.0.2.13"]
    assert failed_checks(templar) == []


def test_vxlan_mode_refuses_a_peer_without_an_underlay_address():
    templar = host_vars("dc1-b", flat_bridge_mode="vxlan", flat_bridge_vxlan_address="10.213.65.12/24",
                        flat_bridge_docker_pool="10.213.65.128/25",
                        hostvars={"dc1-a": {"flat_bridge_vxlan_underlay_address": "192.0.2.11"}, "dc1-b": {}, "dc1-c": {}})
    assert failed_checks(templar) == [
        "every host of group 'flat_bridge' needs an IPv4 underlay address (flat_bridge_vxlan_underlay_address, else its "
        "default IPv4 address: gather its facts); got ['unknown: dc1-c']."]


@pytest.mark.parametrize("settings, message", [
    ({"flat_bridge_docker_pool": "10.1.0.0/24"}, "flat_bridge_docker_pool 10.1.0.0/24 must lie inside the bridge's subnet 10.0.0.0/16."),
    ({"flat_bridge_docker_pool": "10.0.0.0/24"}, "dc1-a's slice 10.0.0.0/27 (flat_bridge_host_index 0) holds the gateway 10.0.0.1."),
    ({"flat_bridge_docker_pool": "10.0.255.0"}, "flat_bridge_docker_pool ('10.0.255.0') must be an IPv4 network (192.0.2.128/25)."),
    ({"flat_bridge_docker_pool": "10.0.255.5/24"}, "flat_bridge_docker_pool ('10.0.255.5/24') must be an IPv4 network (192.0.2.128/25)."),
    ({"flat_bridge_host_index": 8}, "flat_bridge_host_index (8) is beyond the 8 slices (/27) of flat_bridge_docker_pool 10.0.255.0/24."),
    ({"flat_bridge_docker_range_prefix": 23}, "flat_bridge_docker_range_prefix (23) must lie between the pool's prefix (24) and 30."),
    ({"flat_bridge_docker_range_prefix": 31}, "flat_bridge_docker_range_prefix (31) must lie between the pool's prefix (24) and 30."),
    ({"flat_bridge_mode": "flat"}, "Check the mode and the Docker driver"),
    ({"flat_bridge_docker_driver": "ipvlan"}, "Check the mode and the Docker driver"),
    ({"flat_bridge_name": "a-bridge-name-too-long"}, "Check the mode and the Docker driver"),
    ({"flat_bridge_gateway": "10.0.0.300"}, "flat_bridge_gateway ('10.0.0.300') must be an IPv4 address"),
    ({"flat_bridge_address": "10.0.0.12"}, "flat_bridge_address ('10.0.0.12') must be an IPv4 address with prefix"),
    ({"flat_bridge_uplink": "eth9"}, "flat_bridge_uplink ('eth9') names no NIC of this host."),
    ({"flat_bridge_uplink": "br0"}, "flat_bridge_uplink ('br0') is the bridge itself"),
])
def test_bad_settings_are_refused_by_the_check_that_names_them(settings, message):
    failed = failed_checks(host_vars("dc1-a", **settings))
    assert [line for line in failed if line.startswith(message)], failed


def test_a_slice_holding_the_hosts_own_address_is_refused():
    # dc1-a has slice 0 = 10.0.255.0/27; put its address in there
    assert failed_checks(host_vars("dc1-a", address="10.0.255.7")) == [
        "dc1-a's slice 10.0.255.0/27 (flat_bridge_host_index 0) holds the host's own address 10.0.255.7."]


def test_a_host_outside_the_group_is_refused():
    assert failed_checks(host_vars("dc1-z")) == [
        "dc1-z has no slice of flat_bridge_docker_pool: it is not in group 'flat_bridge' (flat_bridge_group) and "
        "flat_bridge_host_index is -1."]


def test_a_host_without_a_default_route_is_told_to_set_its_uplink_address_and_gateway():
    templar = host_vars("dc1-a")
    templar.available_variables = dict(templar.available_variables, ansible_facts={"distribution_major_version": "12"})
    failed = failed_checks(templar)
    assert [line.split(" ")[0] for line in failed] == ["flat_bridge_uplink", "flat_bridge_address", "flat_bridge_gateway"]


def test_without_a_docker_network_the_pool_is_not_looked_at():
    assert plan(host_vars("dc1-z", flat_bridge_docker_network=False, flat_bridge_docker_pool="")) == {
        "errors": [], "docker_subnet": "10.0.0.0/16", "docker_range": "", "docker_gateway": "10.0.0.1"}


def test_after_the_switch_the_saved_local_fact_names_the_uplink_not_the_bridge():
    # Once the bridge carries the address, the default route's interface is the bridge; the local fact written
    # on the first run (ansible_facts.ansible_local: Ansible keeps that one key's prefix) still names eth0.
    templar = host_vars("dc1-a")
    facts = dict(templar.available_variables["ansible_facts"])
    facts["default_ipv4"] = dict(facts["default_ipv4"], interface="br0")
    facts["ansible_local"] = {"flat_bridge_br0": {"uplink": "eth0", "address": "10.0.0.12/16", "gateway": "10.0.0.1"}}
    templar.available_variables = dict(templar.available_variables, ansible_facts=facts)
    assert render(templar, "__flat_bridge_uplink") == "eth0"
    assert failed_checks(templar) == []
