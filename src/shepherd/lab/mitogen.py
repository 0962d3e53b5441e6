"""Mitogen for the lab's runs: the environment that makes ansible-playbook use it, when it is installed.

Mitogen keeps one Python interpreter per host for the whole run instead of starting one per task through
`docker exec`: a warm re-run of the lab takes less than half the time (docs/lab.md). It is a third-party strategy
plugin (ansible-core warns that those carry no compatibility guarantee), so only the lab uses it, and
`shepherd lab up --no-mitogen` runs without it. The lab's inventory works both ways (inventory.py).
"""

from __future__ import annotations

import getpass
import importlib.util
from pathlib import Path


def mitogen_strategy_dir() -> Path | None:
    """The folder of Mitogen's strategy plugins, or None when the `mitogen` package is not installed."""
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "plugins" / "strategy"


def mitogen_environment() -> dict[str, str]:
    """Environment variables for ansible-playbook to run with Mitogen; empty when it is not installed.

    The remote user is set to whoever runs the lab: Mitogen, unlike plain Ansible, escalates with sudo whenever
    the remote user is unknown, even on the controller as root (the lab's hosts set theirs, root, in the inventory).
    """
    strategy_dir = mitogen_strategy_dir()
    if strategy_dir is None:
        return {}
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(strategy_dir),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "ANSIBLE_REMOTE_USER": getpass.getuser(),
    }
