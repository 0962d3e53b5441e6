"""What a lab is made of: its name, network, hosts with fixed addresses, images and inventory groups.

The groups are the example inventory's (inventories/example/hosts.yml): `datacenter` with children `masters`,
`agents` and `storage`, and `devices`. Each group has its own block of addresses in the lab subnet, so a host
keeps its address when another group grows: masters .11-.19, agents .21-.29, storage .31-.39, devices .101-.199.
The layers' groups (zookeeper, mesos_agents, ceph_osds, ...) are made of these in inventories/lab/layers.yml.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

DATACENTER = "datacenter"
DATACENTER_GROUPS = ("masters", "agents", "storage")
DEVICES = "devices"


@dataclass(frozen=True)
class HostGroup:
    """One inventory group of the lab: the prefix of its host names, its first address offset, its size limit and
    the machine's devices its hosts get."""

    group: str
    prefix: str
    offset: int
    limit: int
    devices: tuple[str, ...] = ()


GROUPS = (
    HostGroup("masters", "master", 10, 9),
    # The agents mount CephFS with ceph-fuse (a container has no kernel client), so they get /dev/fuse.
    HostGroup("agents", "agent", 20, 9, ("/dev/fuse",)),
    HostGroup("storage", "storage", 30, 9),
    HostGroup(DEVICES, "device", 100, 99),
)
# The label every Docker object of a lab carries, with the lab's name as value.
LAB_LABEL = "shepherd.lab"


@dataclass(frozen=True)
class LabHost:
    """One host of the lab: its inventory name (master1, agent1, device1, ...), group, fixed address, image and
    the machine's devices it gets."""

    name: str
    group: str
    address: str
    image: str
    devices: tuple[str, ...] = ()

    def container(self, lab: str) -> str:
        """The host's container name in lab LAB."""
        return f"{lab}-{self.name}"


@dataclass(frozen=True)
class LabSpec:
    """The lab to bring up; `from_env` applies SHEPHERD_LAB_* environment variables over these defaults.

    name: names the Docker network, prefixes the containers and is the value of the shepherd.lab label.
    masters, agents, storage, devices: how many hosts of each group. The defaults fit a 2-core machine and still
    show everything: one master (ZooKeeper, Mesos master, Marathon, Consul server, InfluxDB, and the Ceph monitor,
    OSD and MDS), two agents (an app's tasks on two hosts, so the cross-host checks mean something), no storage
    hosts (when asked for, they carry Ceph OSDs too) and two devices (a canary and a batch in a firmware rollout).
    subnet: the lab network, a /24 or larger that nothing else on the machine uses.
    """

    name: str = "shepherd-lab"
    masters: int = 1
    agents: int = 2
    storage: int = 0
    devices: int = 2
    subnet: str = "172.30.77.0/24"
    datacenter_image: str = "shepherd/host:debian12"
    device_image: str = "shepherd/host:debian13"

    @classmethod
    def from_env(cls) -> LabSpec:
        """The default lab with SHEPHERD_LAB_NAME, _MASTERS, _AGENTS, _STORAGE, _DEVICES and _SUBNET applied.
        Raises ValueError naming the variable when a size is not a whole number."""
        env = os.environ
        sizes = {}
        for field_name in ("masters", "agents", "storage", "devices"):
            variable = f"SHEPHERD_LAB_{field_name.upper()}"
            try:
                sizes[field_name] = int(env.get(variable, getattr(cls, field_name)))
            except ValueError:
                raise ValueError(f"{variable}={env[variable]!r} is not a whole number") from None
        return cls(name=env.get("SHEPHERD_LAB_NAME", cls.name), subnet=env.get("SHEPHERD_LAB_SUBNET", cls.subnet), **sizes)

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The lab subnet (ValueError when it is not an IPv4 network address with prefix)."""
        return ipaddress.IPv4Network(self.subnet, strict=True)

    @property
    def gateway(self) -> str:
        """The network's first address: Docker's bridge on this machine."""
        return str(self.network.network_address + 1)

    @property
    def label(self) -> str:
        """The label filter (key=value) that finds this lab's Docker objects."""
        return f"{LAB_LABEL}={self.name}"

    def size(self, group: str) -> int:
        """How many hosts GROUP has."""
        return int(getattr(self, group))

    def validate(self) -> None:
        """Raise ValueError, naming the field, when the lab cannot be laid out."""
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name) or not self.name[0].isalnum():
            raise ValueError(f"name {self.name!r}: use letters, digits, - and _ (starting with a letter or digit)")
        for group in GROUPS:
            count = self.size(group.group)
            if not 0 <= count <= group.limit:
                raise ValueError(f"{group.group}: {count} is outside 0..{group.limit}")
        if not any(self.size(group.group) for group in GROUPS):
            raise ValueError("masters, agents, storage, devices: a lab needs at least one host")
        try:
            network = self.network
        except ValueError as error:
            raise ValueError(f"subnet {self.subnet!r}: {error}") from None
        if network.prefixlen > 24:
            raise ValueError(f"subnet {self.subnet}: too small, use a /24 or larger")

    def hosts(self) -> list[LabHost]:
        """The lab's hosts, group by group (masters, agents, storage, devices)."""
        base = self.network.network_address
        hosts = []
        for group in GROUPS:
            image = self.device_image if group.group == DEVICES else self.datacenter_image
            for index in range(1, self.size(group.group) + 1):
                address = str(base + group.offset + index)
                hosts.append(LabHost(f"{group.prefix}{index}", group.group, address, image, group.devices))
        return hosts
