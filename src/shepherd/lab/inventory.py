"""The lab's inventory file (inventories/lab/hosts.yml): written by `lab up`, removed by `lab down`.

Hosts are reached through their container with the `docker` connection: plain Ansible resolves it to
community.docker.docker, which reads the container from ansible_docker_host; Mitogen (mitogen.py) replaces it with its
own, which reads it from ansible_ssh_host, and needs the user (root) to skip sudo. ansible_host is the host's fixed
lab address, so roles that write addresses (e.g. /etc/hosts) see the lab network. Groups as in the example
inventory: datacenter (children masters, agents, storage) and devices. Settings for the roles in the lab live next
to it, in inventories/lab/group_vars/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shepherd.lab.topology import DATACENTER, DATACENTER_GROUPS, DEVICES, LabSpec

HEADER = "# Written by `shepherd lab up` for lab {name}: rewritten by every `lab up`, removed by `lab down`.\n"


def inventory_data(spec: LabSpec) -> dict[str, Any]:
    """The inventory as YAML-ready data. Every group exists, even when empty, so playbooks that target it
    (`hosts: storage`) find it and skip instead of warning about an unknown pattern."""
    hosts = spec.hosts()
    members: dict[str, dict[str, None]] = {group: {} for group in (*DATACENTER_GROUPS, DEVICES)}
    for host in hosts:
        members[host.group][host.name] = None
    return {
        "all": {
            "hosts": {
                host.name: {
                    "ansible_host": host.address,
                    "ansible_docker_host": host.container(spec.name),
                    "ansible_ssh_host": host.container(spec.name),
                }
                for host in hosts
            },
            "vars": {
                # The short name: Mitogen takes over only connections it knows by it.
                "ansible_connection": "docker",
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                "shepherd_lab_name": spec.name,
                "shepherd_lab_subnet": spec.subnet,
            },
            "children": {
                DATACENTER: {"children": {group: {"hosts": members[group]} for group in DATACENTER_GROUPS}},
                DEVICES: {"hosts": members[DEVICES]},
            },
        }
    }


def render_inventory(spec: LabSpec) -> str:
    """The inventory file's text."""
    body = yaml.safe_dump(inventory_data(spec), sort_keys=False, default_flow_style=False)
    return HEADER.format(name=spec.name) + "---\n" + body.replace(": null\n", ":\n")


def write_inventory(path: Path, spec: LabSpec) -> bool:
    """Write the inventory unless it already says exactly this; True when the file changed."""
    text = render_inventory(spec)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def remove_inventory(path: Path, spec: LabSpec) -> bool:
    """Remove the inventory if this lab wrote it (its first line says so); True when removed."""
    try:
        first_line = path.read_text(encoding="utf-8").splitlines()[0] + "\n"
    except (OSError, IndexError):
        return False
    if first_line != HEADER.format(name=spec.name):
        return False
    path.unlink()
    return True
