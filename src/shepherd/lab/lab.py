"""Bringing a lab up, finding out how it is, and taking it down again — through the docker command line.

Everything a lab creates carries the label shepherd.lab=<lab name>: its network, its host containers and their
anonymous /var/lib/docker volumes. `down` removes exactly the objects with that label (and the inventory file
when this lab wrote it), nothing else. `up` is re-entrant: what exists is reused, stopped hosts are started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shepherd.lab import docker
from shepherd.lab.hostdef import HostDefinitionError, docker_run_options, load_definition
from shepherd.lab.inventory import remove_inventory, write_inventory
from shepherd.lab.services import AppTask, Endpoint, find_endpoints, marathon_tasks
from shepherd.lab.topology import DEVICES, GROUPS, LAB_LABEL, LabHost, LabSpec

BOOT_STATES = ("running", "degraded")


class LabError(RuntimeError):
    """The lab cannot be brought up or inspected; the message says why and what to do."""


@dataclass
class UpReport:
    """What `up` did: hosts created, started (existed, stopped) and reused (running), and the rest."""

    inventory: Path
    network_created: bool = False
    created: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    inventory_changed: bool = False
    # Containers of this lab the current sizes do not include (left from a bigger lab; `down` removes them).
    extra: list[str] = field(default_factory=list)


@dataclass
class DownReport:
    """What `down` removed."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    inventory_removed: bool = False


@dataclass(frozen=True)
class HostStatus:
    """One lab container as it is now. state: docker's (running, exited, ...); systemd: is-system-running."""

    name: str
    container: str
    group: str
    address: str
    image: str
    state: str
    systemd: str


class Lab:
    """One lab (`spec`) and the inventory file it writes. `log` receives one line per step, for people."""

    def __init__(
        self,
        spec: LabSpec,
        inventory: Path,
        log: Callable[[str], None] = lambda line: None,
        definition: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.inventory = inventory
        self.log = log
        # The host definition (molecule/_shared/host.yml), loaded when `up` first needs it.
        self.definition = definition

    def up(self, boot_timeout: float = 180) -> UpReport:
        """Create what is missing (network, hosts), start what is stopped, wait until systemd has booted every
        host, write the inventory. Raises LabError (nothing is ever pulled: images must be built locally)."""
        try:
            self.spec.validate()
            if self.definition is None:
                self.definition = load_definition()
        except (ValueError, HostDefinitionError) as error:
            raise LabError(str(error)) from error
        try:
            self._check_images()
            report = UpReport(inventory=self.inventory, network_created=self._ensure_network())
            hosts = self.spec.hosts()
            for host in hosts:
                getattr(report, self._ensure_host(host, self.definition)).append(host.name)
            self._wait_for_boot(hosts, boot_timeout)
            wanted = {host.container(self.spec.name) for host in hosts}
            report.extra = [name for name in docker.names_with_label("container", self.spec.label) if name not in wanted]
        except docker.DockerError as error:
            raise LabError(str(error)) from error
        report.inventory_changed = write_inventory(self.inventory, self.spec)
        return report

    def down(self) -> DownReport:
        """Remove the lab's containers (with their anonymous volumes), leftover labelled volumes, the network
        and the inventory file this lab wrote."""
        report = DownReport()
        try:
            report.containers = docker.names_with_label("container", self.spec.label)
            if report.containers:
                self.log(f"removing {len(report.containers)} containers")
                docker.docker("rm", "--force", "--volumes", *report.containers, timeout=180)
            report.volumes = docker.names_with_label("volume", self.spec.label)
            if report.volumes:
                docker.docker("volume", "rm", "--force", *report.volumes)
            report.networks = docker.names_with_label("network", self.spec.label)
            if report.networks:
                docker.docker("network", "rm", *report.networks)
        except docker.DockerError as error:
            raise LabError(str(error)) from error
        report.inventory_removed = remove_inventory(self.inventory, self.spec)
        return report

    def status(self, probe: bool = True) -> tuple[list[HostStatus], list[Endpoint]]:
        """The lab's containers (found by label, whatever the sizes) and, with PROBE, the service endpoints that
        answer on the running ones."""
        try:
            names = docker.names_with_label("container", self.spec.label)
            hosts = sorted((self._host_status(name) for name in names), key=status_order)
        except docker.DockerError as error:
            raise LabError(str(error)) from error
        running = [(host.name, host.address) for host in hosts if host.state == "running" and host.address]
        return hosts, find_endpoints(running) if probe else []

    def apps(self, endpoints: list[Endpoint]) -> list[AppTask]:
        """The Marathon apps' tasks, from the first Marathon among ENDPOINTS that lists them."""
        for endpoint in endpoints:
            if endpoint.service.startswith("Marathon"):
                tasks = marathon_tasks(endpoint.url.rsplit("/v2/", 1)[0])
                if tasks:
                    return tasks
        return []

    def firmware(self, hosts: list[HostStatus]) -> dict[str, str]:
        """The running firmware release of every running device ('none' before the first rollout, '?' when the
        agent does not answer), by host name."""
        releases = {}
        for host in hosts:
            if host.group == DEVICES and host.state == "running":
                releases[host.name] = device_release(host.container)
        return releases

    def _check_images(self) -> None:
        for image in sorted({host.image for host in self.spec.hosts()}):
            if docker.inspect("image", image) is None:
                raise LabError(
                    f"image {image} is missing: build it with tests/harness/images/build.sh "
                    "(or scripts/setup.sh); the lab never pulls"
                )

    def _ensure_network(self) -> bool:
        """Create the lab network unless this lab's network exists; True when created."""
        network = docker.inspect("network", self.spec.name)
        if network is not None:
            if (network.get("Labels") or {}).get(LAB_LABEL) != self.spec.name:
                raise LabError(f"a Docker network named {self.spec.name} exists and is not this lab's")
            subnets = [entry.get("Subnet") for entry in (network.get("IPAM") or {}).get("Config") or []]
            if self.spec.subnet not in subnets:
                raise LabError(
                    f"lab network {self.spec.name} has subnet {', '.join(map(str, subnets))}, not {self.spec.subnet}: "
                    f"run `shepherd lab down --name {self.spec.name}` first"
                )
            return False
        self.log(f"creating network {self.spec.name} ({self.spec.subnet})")
        try:
            docker.docker(
                "network", "create", "--driver", "bridge", "--subnet", self.spec.subnet, "--gateway", self.spec.gateway,
                "--label", self.spec.label, self.spec.name,
            )  # fmt: skip
        except docker.DockerError as error:
            if "overlap" in str(error).lower():
                raise LabError(f"{error} -- choose a free subnet with --subnet (or SHEPHERD_LAB_SUBNET)") from error
            raise
        return True

    def _ensure_host(self, host: LabHost, definition: Mapping[str, Any]) -> str:
        """Create, start or reuse the host's container; returns which of the three (an UpReport field)."""
        name = host.container(self.spec.name)
        container = docker.inspect("container", name)
        if container is None:
            self.log(f"creating {host.name} ({name}, {host.address}, {host.image})")
            labels = {
                LAB_LABEL: self.spec.name,
                f"{LAB_LABEL}.host": host.name,
                f"{LAB_LABEL}.group": host.group,
                f"{LAB_LABEL}.address": host.address,
            }
            docker.docker(
                "run", "--detach", "--pull", "never", "--name", name, "--hostname", host.name,
                "--network", self.spec.name, "--ip", host.address, "--network-alias", host.name,
                *docker_run_options(definition, labels), *device_options(host), host.image, definition["command"],
            )  # fmt: skip
            return "created"
        labels = container["Config"].get("Labels") or {}
        if labels.get(LAB_LABEL) != self.spec.name:
            raise LabError(f"a container named {name} exists and is not this lab's")
        if labels.get(f"{LAB_LABEL}.address") != host.address:
            raise LabError(
                f"{name} has address {labels.get(f'{LAB_LABEL}.address')}, not {host.address}: the lab was made with "
                f"another subnet; run `shepherd lab down --name {self.spec.name}` first"
            )
        if container["State"].get("Running"):
            return "reused"
        self.log(f"starting {host.name} ({name})")
        docker.docker("start", name)
        return "started"

    def _wait_for_boot(self, hosts: list[LabHost], timeout: float) -> None:
        """Wait until `systemctl is-system-running --wait` says running or degraded on every host."""
        deadline = time.monotonic() + timeout
        names = [host.container(self.spec.name) for host in hosts]
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            states = dict(zip(names, pool.map(lambda name: boot_state(name, deadline), names)))
        late = {name: state for name, state in states.items() if state not in BOOT_STATES}
        if late:
            details = ", ".join(f"{name}: {state or 'no answer'}" for name, state in late.items())
            raise LabError(f"systemd did not finish booting within {timeout:.0f}s ({details})")

    def _host_status(self, name: str) -> HostStatus:
        container = docker.inspect("container", name) or {}
        labels = (container.get("Config") or {}).get("Labels") or {}
        state = str((container.get("State") or {}).get("Status", "missing"))
        systemd = ""
        if state == "running":
            done = docker.run("exec", name, "systemctl", "is-system-running", timeout=30)
            systemd = done.stdout.strip() or done.stderr.strip()
        return HostStatus(
            name=labels.get(f"{LAB_LABEL}.host", name),
            container=name,
            group=labels.get(f"{LAB_LABEL}.group", ""),
            address=labels.get(f"{LAB_LABEL}.address", ""),
            image=str((container.get("Config") or {}).get("Image", "")),
            state=state,
            systemd=systemd,
        )


def device_release(container: str) -> str:
    """The release the OTA agent in CONTAINER runs ('none' before any, '?' when there is no answer)."""
    try:
        done = docker.run("exec", container, "ota-agent", "--json", "status", timeout=30)
        running = json.loads(done.stdout).get("running") if done.returncode == 0 else "?"
    except (docker.DockerError, ValueError, AttributeError):
        return "?"
    if running == "?":
        return "?"
    return str(running.get("release", "?")) if isinstance(running, dict) else "none"


def device_options(host: LabHost) -> list[str]:
    """`docker run` options that give HOST the machine's devices its group needs (e.g. /dev/fuse)."""
    return [option for device in host.devices for option in ("--device", device)]


def status_order(host: HostStatus) -> tuple[int, int, str]:
    """Masters, agents, storage, devices (containers without a known group last), each by host number."""
    groups = [group.group for group in GROUPS]
    rank = groups.index(host.group) if host.group in groups else len(groups)
    digits = "".join(c for c in host.name if c.isdigit())
    return rank, int(digits) if digits else 0, host.name


def boot_state(container: str, deadline: float) -> str:
    """systemd's state in CONTAINER once it has finished booting, or the last answer when DEADLINE passes.
    Right after start, on a busy machine, systemd may not answer yet (`Failed to connect to bus`, or `offline`
    at once): ask again. Only maintenance and stopping end the wait early: they will not turn into running."""
    state = ""
    while time.monotonic() < deadline:
        remaining = max(1.0, deadline - time.monotonic())
        try:
            done = docker.run("exec", container, "systemctl", "is-system-running", "--wait", timeout=remaining)
        except docker.DockerError:
            return state
        state = done.stdout.strip() or done.stderr.strip()
        if state in BOOT_STATES or state in ("maintenance", "stopping"):
            return state
        time.sleep(0.5)
    return state
