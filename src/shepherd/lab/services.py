"""Finding the endpoints of the services that run in the lab (Consul UI, Mesos, Marathon API, cAdvisor, ...) and
the Marathon apps' tasks.

Each known service is probed on each running host at its usual port(s) with an HTTP request that only that
service answers with 200 (ZooKeeper: a TCP connection), so Marathon and cAdvisor can share a port number
without being confused. Only the lab's own containers are contacted, with a short timeout, in parallel.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

PROBE_TIMEOUT = 1.0
# Straight to the lab's addresses, never through an HTTP proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Service:
    """A service the lab may run: its name, candidate ports, the path that proves it (None: TCP only) and the
    path people open."""

    name: str
    ports: tuple[int, ...]
    probe: str | None
    path: str = "/"


# Mesos and Marathon cannot be obtained where the lab runs: the lab installs the stand-ins of tests/standins/.
STANDIN = " (STAND-IN)"
SERVICES = (
    Service("Consul UI", (8500,), "/v1/status/leader", "/ui/"),
    Service("Mesos master" + STANDIN, (5050,), "/version"),
    Service("Mesos agent" + STANDIN, (5051,), "/version"),
    Service("Marathon API" + STANDIN, (8080,), "/v2/info", "/v2/apps"),
    Service("cAdvisor", (8080, 8081, 4194), "/api/v2.0/version", "/containers/"),
    Service("ZooKeeper", (2181,), None),
    Service("InfluxDB", (8086,), "/health", "/health"),
    Service("Prometheus", (9090,), "/-/ready", "/graph"),
    Service("Ceph monitor", (3300,), None),
    Service("Firmware server (test)", (8090,), "/channel/manifest.json", "/channel/manifest.json"),
    Service("Stand-in apt repository (test)", (8000,), "/key.asc", "/"),
)


@dataclass(frozen=True)
class Endpoint:
    """A service found answering on a lab host."""

    service: str
    host: str
    url: str


def answers(address: str, port: int, probe: str | None) -> bool:
    """Whether ADDRESS:PORT accepts a connection (probe None) or answers GET PROBE with 200."""
    if probe is None:
        try:
            with socket.create_connection((address, port), timeout=PROBE_TIMEOUT):
                return True
        except OSError:
            return False
    try:
        with OPENER.open(f"http://{address}:{port}{probe}", timeout=PROBE_TIMEOUT) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def find_endpoints(hosts: Iterable[tuple[str, str]], services: Iterable[Service] = SERVICES) -> list[Endpoint]:
    """Endpoints of SERVICES answering on HOSTS ((name, address) pairs), in host then service order."""
    candidates = [
        (host, address, service, port) for host, address in hosts for service in services for port in service.ports
    ]
    if not candidates:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(candidates))) as pool:
        found = list(pool.map(lambda c: answers(c[1], c[3], c[2].probe), candidates))
    endpoints = []
    for (host, address, service, port), ok in zip(candidates, found):
        if ok:
            scheme = "http" if service.probe is not None else "tcp"
            suffix = service.path if service.probe is not None else ""
            endpoints.append(Endpoint(service.name, host, f"{scheme}://{address}:{port}{suffix}"))
    return endpoints


@dataclass(frozen=True)
class AppTask:
    """A task of a Marathon app: where it runs, its addresses and how its health checks and state say it is."""

    app: str
    host: str
    addresses: str
    state: str


def marathon_tasks(url: str) -> list[AppTask]:
    """The tasks of every app on the Marathon at URL (http://host:port), by app; [] when it does not answer."""
    try:
        with OPENER.open(f"{url}/v2/tasks", timeout=5 * PROBE_TIMEOUT) as response:
            tasks = json.load(response).get("tasks") or []
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return []
    found = []
    for task in tasks:
        if not isinstance(task, dict):
            continue
        addresses = ", ".join(str(entry.get("ipAddress", "")) for entry in task.get("ipAddresses") or [] if isinstance(entry, dict))
        state = str(task.get("state", "?"))
        health = task.get("healthCheckResults") or []
        if health:
            state += ", healthy" if all(isinstance(h, dict) and h.get("alive") for h in health) else ", UNHEALTHY"
        found.append(AppTask(str(task.get("appId", "?")), str(task.get("host", "?")), addresses, state))
    return sorted(found, key=lambda t: (t.app, t.host, t.addresses))
