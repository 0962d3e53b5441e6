# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: flat_bridge_plan
short_description: Check a host's flat bridge settings and work out its addresses and slice of the Docker pool
version_added: 1.0.0
description:
  - The address arithmetic and the checks of the P(shepherd.fleet.flat_bridge#role) role, on Python's C(ipaddress).
  - It never fails. Every problem is a sentence in RV(_value.errors) that names the role variable to fix, so the
    role can report all of them at once.
positional: _input
options:
  _input:
    description: The host's resolved settings.
    type: dict
    required: true
    suboptions:
      host:
        description: The host's inventory name (for the messages).
        type: str
      mode:
        description: V(bridge) or V(vxlan), as O(shepherd.fleet.flat_bridge#role:main:flat_bridge_mode).
        type: str
      bridge:
        description: The bridge's name.
        type: str
      address:
        description: The host's address on the bridge, with prefix (V(192.0.2.10/24)).
        type: str
      gateway:
        description: The default gateway (bridge mode).
        type: str
      uplink:
        description: The NIC that becomes the bridge's port (bridge mode).
        type: str
      uplink_exists:
        description: Whether the host has that NIC (its facts name it).
        type: bool
      vxlan_underlay:
        description: The host's underlay address (vxlan mode).
        type: str
      vxlan_peers:
        description: The other hosts' underlay addresses (vxlan mode).
        type: list
        elements: str
      vxlan_id:
        description: The VXLAN network id (vxlan mode).
        type: int
      group:
        description: The inventory group that numbers the hosts (for the messages).
        type: str
      docker_network:
        description: Whether a Docker network goes onto the bridge; without one the pool is not looked at.
        type: bool
      docker_pool:
        description: The IPv4 network the hosts' Docker ranges are cut from.
        type: str
      docker_range_prefix:
        description: The prefix length of each host's slice.
        type: int
      host_index:
        description: This host's slice number; V(-1) when the host is not in O(_input.group).
        type: int
"""

EXAMPLES = r"""
- name: Work out the bridge's addresses
  ansible.builtin.set_fact:
    plan: >-
      {{ {'host': 'dc1-a', 'mode': 'bridge', 'bridge': 'br0', 'address': '10.0.0.12/16', 'gateway': '10.0.0.1',
          'uplink': 'eth0', 'uplink_exists': true, 'docker_network': true, 'docker_pool': '10.0.255.0/24',
          'docker_range_prefix': 27, 'host_index': 1} | shepherd.fleet.flat_bridge_plan }}
  # plan.docker_subnet == '10.0.0.0/16', plan.docker_range == '10.0.255.32/27', plan.errors == []
"""

RETURN = r"""
_value:
  description: The host's addresses and the problems found.
  type: dict
  contains:
    errors:
      description: One sentence per problem, naming the variable to fix; empty when the settings are good.
      type: list
      elements: str
    docker_subnet:
      description: The bridge's subnet, which the Docker network spans.
      type: str
      sample: 10.0.0.0/16
    docker_range:
      description: This host's slice of the pool, from which its Docker hands out addresses.
      type: str
      sample: 10.0.255.32/27
    docker_gateway:
      description: The Docker network's gateway, the real gateway in bridge mode and the host's own address in vxlan mode.
      type: str
"""

import ipaddress

from ansible.module_utils.six import string_types


def _interface(text):
    """An IPv4 address with prefix (192.0.2.10/24), or None."""
    if not isinstance(text, string_types) or "/" not in text:
        return None
    try:
        return ipaddress.IPv4Interface(text)
    except ValueError:
        return None


def _address(text):
    """An IPv4 address without prefix, or None."""
    try:
        return ipaddress.IPv4Address(text) if isinstance(text, string_types) else None
    except ValueError:
        return None


def _integer(value):
    """An int from an int or a string of one (inventory values are often strings), else None."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_overlay(settings, interface, errors):
    """vxlan mode: the overlay address, the underlay addresses of this host and its peers, the VXLAN id."""
    if interface is None:
        errors.append("flat_bridge_vxlan_address (%r) must be an IPv4 address with prefix (10.213.200.11/24)."
                      % settings.get("address"))
    if _address(settings.get("vxlan_underlay")) is None:
        errors.append("flat_bridge_vxlan_underlay_address (%r) must be an IPv4 address (default: the host's default "
                      "IPv4 address)." % settings.get("vxlan_underlay"))
    bad_peers = [peer for peer in settings.get("vxlan_peers") or [] if _address(peer) is None]
    if bad_peers:
        errors.append("every host of group '%s' needs an IPv4 underlay address (flat_bridge_vxlan_underlay_address, "
                      "else its default IPv4 address: gather its facts); got %s." % (settings.get("group"), bad_peers))
    vxlan_id = _integer(settings.get("vxlan_id"))
    if vxlan_id is None or not 1 <= vxlan_id <= 16777215:
        errors.append("flat_bridge_vxlan_id (%r) must be between 1 and 16777215." % settings.get("vxlan_id"))


def _check_uplink(settings, interface, gateway, errors):
    """bridge mode: the uplink, the host's address and the gateway."""
    uplink = settings.get("uplink") or ""
    if not uplink:
        errors.append("flat_bridge_uplink is empty and the host has no default route to take it from: set it in host_vars.")
    elif uplink == settings.get("bridge"):
        errors.append("flat_bridge_uplink (%r) is the bridge itself; name the NIC that becomes its port." % uplink)
    elif not settings.get("uplink_exists"):
        errors.append("flat_bridge_uplink (%r) names no NIC of this host." % uplink)
    if interface is None:
        errors.append("flat_bridge_address (%r) must be an IPv4 address with prefix (192.0.2.10/24); it defaults to the "
                      "host's current address, so set it in host_vars when the host has none." % settings.get("address"))
    if gateway is None:
        errors.append("flat_bridge_gateway (%r) must be an IPv4 address; it defaults to the host's current default "
                      "gateway, so set it in host_vars when the host has none." % settings.get("gateway"))


def _slice(settings, interface, gateway, errors):
    """This host's slice of the Docker pool, checked against the bridge's subnet, the host and the gateway."""
    text = settings.get("docker_pool")
    try:
        pool = ipaddress.IPv4Network(text) if isinstance(text, string_types) and "/" in text else None
    except ValueError:
        pool = None
    if pool is None:
        errors.append("flat_bridge_docker_pool (%r) must be an IPv4 network (192.0.2.128/25)." % text)
        return ""
    range_prefix = _integer(settings.get("docker_range_prefix"))
    if range_prefix is None or not pool.prefixlen <= range_prefix <= 30:
        errors.append("flat_bridge_docker_range_prefix (%r) must lie between the pool's prefix (%d) and 30."
                      % (settings.get("docker_range_prefix"), pool.prefixlen))
        return ""
    count = 2 ** (range_prefix - pool.prefixlen)
    index = _integer(settings.get("host_index"))
    if index is None or index < 0:
        errors.append("%s has no slice of flat_bridge_docker_pool: it is not in group '%s' (flat_bridge_group) and "
                      "flat_bridge_host_index is %r." % (settings.get("host"), settings.get("group"), settings.get("host_index")))
        return ""
    if index >= count:
        errors.append("flat_bridge_host_index (%d) is beyond the %d slices (/%d) of flat_bridge_docker_pool %s."
                      % (index, count, range_prefix, pool))
        return ""
    host_slice = ipaddress.IPv4Network((int(pool.network_address) + index * 2 ** (32 - range_prefix), range_prefix))
    if interface is not None:
        if not pool.subnet_of(interface.network):
            errors.append("flat_bridge_docker_pool %s must lie inside the bridge's subnet %s." % (pool, interface.network))
        if interface.ip in host_slice:
            errors.append("%s's slice %s (flat_bridge_host_index %d) holds the host's own address %s."
                          % (settings.get("host"), host_slice, index, interface.ip))
    if gateway is not None and gateway in host_slice:
        errors.append("%s's slice %s (flat_bridge_host_index %d) holds the gateway %s."
                      % (settings.get("host"), host_slice, index, gateway))
    return str(host_slice)


def flat_bridge_plan(settings):
    """See DOCUMENTATION."""
    vxlan = settings.get("mode") == "vxlan"
    interface = _interface(settings.get("address"))
    gateway = None if vxlan else _address(settings.get("gateway"))
    errors = []
    if vxlan:
        _check_overlay(settings, interface, errors)
    else:
        _check_uplink(settings, interface, gateway, errors)
    docker_range = _slice(settings, interface, gateway, errors) if settings.get("docker_network") else ""
    # The Docker network's gateway: the real one in bridge mode, the host's own overlay address in vxlan mode.
    docker_gateway = (interface.ip if interface else None) if vxlan else gateway
    return {
        "errors": errors,
        "docker_subnet": str(interface.network) if interface else "",
        "docker_range": docker_range,
        "docker_gateway": str(docker_gateway) if docker_gateway else "",
    }


class FilterModule(object):

    def filters(self):
        return {"flat_bridge_plan": flat_bridge_plan}
