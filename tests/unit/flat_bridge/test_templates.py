# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files the role stages, rendered by ansible-core from the role's templates: the ifupdown2 stanzas of both
modes and the DHCP variant of the bridge's networkd file (the scenario runs each once; these pin the details)."""

import os

from ansible.template import trust_as_template

from test_ranges import ROLE, host_vars

PEERS = {"dc1-a": "192.0.2.11", "dc1-b": "192.0.2.12", "dc1-c": "192.0.2.13"}


def rendered(template, host="dc1-b", **settings):
    settings.setdefault("ansible_managed", "Ansible managed")
    with open(os.path.join(ROLE, "templates", template), encoding="utf-8") as handle:
        text = handle.read()
    return host_vars(host, **settings).template(trust_as_template(text))


def stanza_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ifupdown2_bridge_mode_makes_the_uplink_a_port_and_the_bridge_take_its_mac_address_and_gateway():
    assert stanza_lines(rendered("ifupdown2.j2", flat_bridge_backend="ifupdown2")) == [
        "auto eth0", "iface eth0 inet manual",
        "auto br0", "iface br0 inet static", "address 10.0.0.12/16", "gateway 10.0.0.1",
        "hwaddress ether 02:42:0a:00:00:0c", "bridge-ports eth0", "bridge-stp off"]


def test_ifupdown2_bridge_mode_with_dhcp():
    lines = stanza_lines(rendered("ifupdown2.j2", flat_bridge_backend="ifupdown2", flat_bridge_dhcp=True))
    assert "iface br0 inet dhcp" in lines
    assert not [line for line in lines if line.startswith(("address", "gateway"))]
    assert "hwaddress ether 02:42:0a:00:00:0c" in lines


def test_ifupdown2_vxlan_mode_lists_every_other_host_as_remote():
    lines = stanza_lines(rendered("ifupdown2.j2", flat_bridge_backend="ifupdown2", flat_bridge_mode="vxlan", flat_bridge_name="br1",
                                  flat_bridge_vxlan_address="10.213.65.12/24", flat_bridge_vxlan_underlay_address="192.0.2.12",
                                  hostvars={h: {"flat_bridge_vxlan_underlay_address": a} for h, a in PEERS.items()}))
    mac = lines[lines.index("iface br1-vx") + 6].split()[-1]
    assert lines[:lines.index("auto br1")] == [
        "auto br1-vx", "iface br1-vx", "vxlan-id 4242", "vxlan-local-tunnelip 192.0.2.12", "vxlan-port 4789",
        "vxlan-remoteip 192.0.2.11", "vxlan-remoteip 192.0.2.13", "hwaddress ether " + mac, "mtu 1450"]
    assert lines[lines.index("auto br1"):] == [
        "auto br1", "iface br1 inet static", "address 10.213.65.12/24", "hwaddress ether %s:01" % mac[:-3],
        "mtu 1450", "bridge-ports br1-vx", "bridge-stp off"]
    assert mac.startswith("02:") and mac.endswith(":02")


def test_networkd_dhcp_asks_with_the_mac_as_client_identifier_and_sets_no_address():
    text = rendered("bridge.network.j2", flat_bridge_dhcp=True)
    assert "DHCP=ipv4" in text and "[DHCPv4]\nClientIdentifier=mac" in text
    assert "Address=" not in text and "Gateway=" not in text


def test_networkd_static_carries_address_and_gateway():
    text = rendered("bridge.network.j2")
    assert "Address=10.0.0.12/16\nGateway=10.0.0.1\n" in text
    assert "DHCP" not in text


def test_docker_waits_for_the_backend_that_brings_the_bridge_up():
    assert "After=networking.service" in rendered("docker-dropin.conf.j2", flat_bridge_backend="ifupdown2")
    assert "wait-online" not in rendered("docker-dropin.conf.j2", flat_bridge_backend="ifupdown2")
    networkd = rendered("docker-dropin.conf.j2")
    assert "After=systemd-networkd.service" in networkd and "--interface=br0" in networkd


def test_the_boot_time_flush_runs_before_the_backend_and_only_while_the_uplink_is_a_port():
    text = rendered("flush-uplink.service.j2", flat_bridge_backend="ifupdown2")
    assert "Before=networking.service network-pre.target" in text
    assert "ConditionPathExists=/etc/network/interfaces.d/flat-bridge-br0" in text
    assert "ConditionPathExists=/etc/systemd/network/40-flat-bridge-br0-uplink.network" in rendered("flush-uplink.service.j2")
