"""A thin layer over the `docker` command line: run it, read JSON from it, say clearly when it fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any


class DockerError(RuntimeError):
    """A docker command failed, or no Docker engine answers."""


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS...` and return what it did, whatever its exit status."""
    if shutil.which("docker") is None:
        raise DockerError("the docker command is not installed")
    try:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise DockerError(f"docker {' '.join(args[:2])} took more than {timeout:.0f}s") from error


def docker(*args: str, timeout: float = 120) -> str:
    """Run `docker ARGS...` and return its stdout; raise DockerError with docker's message when it fails."""
    done = run(*args, timeout=timeout)
    if done.returncode != 0:
        raise DockerError(f"docker {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def engine_answers() -> bool:
    """Whether a Docker engine answers the docker command."""
    try:
        docker("version", "--format", "{{.Server.Version}}", timeout=20)
    except DockerError:
        return False
    return True


def inspect(kind: str, name: str) -> dict[str, Any] | None:
    """`docker KIND inspect NAME` as a dict (KIND: container, network, image, volume), or None when absent."""
    try:
        output = docker(kind, "inspect", name, timeout=30)
    except DockerError as error:
        if "no such" in str(error).lower() or "not found" in str(error).lower():
            return None
        raise
    items = json.loads(output or "[]")
    return items[0] if items else None


# How to list each kind of object, and the template that prints one name per line.
LISTINGS = {
    "container": (["ps", "--all"], "{{.Names}}"),
    "network": (["network", "ls"], "{{.Name}}"),
    "volume": (["volume", "ls"], "{{.Name}}"),
}


def names_with_label(kind: str, label: str) -> list[str]:
    """Names of the containers (any state), networks or volumes (KIND) that carry LABEL (key=value)."""
    command, template = LISTINGS[kind]
    output = docker(*command, "--filter", f"label={label}", "--format", template, timeout=30)
    return sorted(line.strip() for line in output.splitlines() if line.strip())
