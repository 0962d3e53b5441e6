"""The process tree of an ansible-playbook run, read from /proc, and ending it.

ansible-playbook's workers call setsid(): each is the leader of its own session and process group, so killing
ansible-playbook's process group (what ansible-runner does on cancel) leaves them running. These helpers find
every descendant by parent pid instead.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

PROC = Path("/proc")


def parent_pids() -> dict[int, int]:
    """Every visible process's parent pid, by pid."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """PID's children, their children and so on (not PID itself)."""
    children: dict[int, list[int]] = {}
    for child, parent in parent_pids().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    pending = list(children.get(pid, []))
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def alive(pid: int) -> bool:
    """Whether PID exists and is not a zombie."""
    try:
        state = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


def send(pids: list[int], signum: int) -> None:
    """Send SIGNUM to each of PIDS that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            continue


def kill_all(pids: list[int]) -> None:
    """SIGKILL each of PIDS that is still alive."""
    send([pid for pid in pids if alive(pid)], signal.SIGKILL)
