"""The structured result of one playbook run: what a program acts on after `run`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run statuses, as ansible-runner names them.
SUCCESSFUL = "successful"
FAILED = "failed"
CANCELED = "canceled"
TIMEOUT = "timeout"
# The return code of a run that was stopped (canceled or out of time), as ansible-runner reports it.
STOPPED_RC = 254


@dataclass(frozen=True)
class HostStats:
    """One host's line of the play recap."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class FailedTask:
    """A task that failed on a host (or found it unreachable) and was neither ignored nor rescued."""

    host: str
    task: str
    message: str
    play: str = ""
    action: str = ""
    unreachable: bool = False


@dataclass(frozen=True)
class Result:
    """What one run did.

    status is "successful", "failed", "canceled" or "timeout"; rc is ansible-playbook's return code (STOPPED_RC, 254,
    whenever the run was stopped); hosts holds each host's recap; failed_tasks the failures that counted, in the order
    they happened; errors Ansible's own error lines (a syntax error, a missing module: why a run failed before any
    host did); artifact_dir the ansible-runner artifacts (stdout, job_events/, rc, status).
    """

    status: str
    rc: int
    hosts: dict[str, HostStats] = field(default_factory=dict)
    failed_tasks: list[FailedTask] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration: float = 0.0
    artifact_dir: Path | None = None
    playbook: str = ""

    @property
    def ok(self) -> bool:
        """True when the run finished and no host failed or was unreachable."""
        return self.status == SUCCESSFUL

    @property
    def canceled(self) -> bool:
        """True when the run was stopped on request (Ctrl-C or a cancel event)."""
        return self.status == CANCELED

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts with at least one failed task, sorted."""
        return sorted(name for name, stats in self.hosts.items() if stats.failed)

    @property
    def unreachable_hosts(self) -> list[str]:
        """Hosts Ansible could not reach, sorted."""
        return sorted(name for name, stats in self.hosts.items() if stats.unreachable)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data (the `--json` output's last line carries it)."""
        return {
            "status": self.status,
            "rc": self.rc,
            "playbook": self.playbook,
            "duration": round(self.duration, 3),
            "artifact_dir": str(self.artifact_dir) if self.artifact_dir else None,
            "hosts": {name: dataclasses.asdict(stats) for name, stats in sorted(self.hosts.items())},
            "failed_hosts": self.failed_hosts,
            "unreachable_hosts": self.unreachable_hosts,
            "failed_tasks": [dataclasses.asdict(task) for task in self.failed_tasks],
            "errors": list(self.errors),
        }
