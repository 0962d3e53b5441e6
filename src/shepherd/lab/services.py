"""Finding the endpoints of the services that run in the lab (Consul UI, Mesos, Marathon API, cAdvisor, ...).

Each known service is probed on each running host at its usual port(s) with an HTTP request that only that
service answers with 200 (ZooKeeper: a TCP connection), so Marathon and cAdvisor can share a port number
without being confused. Only the lab's own containers are contacted, with a short timeout, in parallel.
"""

from __future__ import annotations

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


SERVICES = (
    Service("Consul UI", (8500,), "/v1/status/leader", "/ui/"),
    Service("Mesos master", (5050,), "/version"),
    Service("Mesos agent", (5051,), "/version"),
    Service("Marathon API", (8080,), "/v2/info", "/v2/apps"),
    Service("cAdvisor", (8080, 8081, 4194), "/api/v2.0/version", "/containers/"),
    Service("ZooKeeper", (2181,), None),
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
