"""Folding ansible-runner events into the state of a run and, at the end, into a `Result`.

ansible-runner hands every Ansible event over as a dict: `event` names it (playbook_on_play_start,
playbook_on_task_start, runner_on_ok, runner_on_failed, runner_on_unreachable, playbook_on_stats, ...) and
`event_data` carries play, task, host and the module result `res`. `RunTracker` keeps what a progress display
needs (current play and task, tasks started out of the play's total, hosts done on the current task, hosts failed)
and what the result needs (per-host stats and failures).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shepherd.result import FailedTask, HostStats, Result

Event = Mapping[str, Any]
# Given a play's uuid, the number of tasks the play will start (None while unknown); see plan.py.
PlanLookup = Callable[[str], "int | None"]

TASK_START_EVENTS = ("playbook_on_task_start", "playbook_on_handler_task_start")
HOST_END_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")
MESSAGE_LIMIT = 2000
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_message(res: Any) -> str:
    """The one-line reason a module result gives for failing: msg, with stderr's tail or failed loop items."""
    if not isinstance(res, Mapping):
        return str(res or "")
    message = str(res.get("msg") or res.get("reason") or "").strip()
    items = res.get("results")
    if isinstance(items, list):
        item_messages = [failure_message(item) for item in items if isinstance(item, Mapping) and item.get("failed")]
        item_messages = [m for m in item_messages if m]
        if item_messages:
            message = f"{message}: {'; '.join(item_messages)}" if message else "; ".join(item_messages)
    stderr = str(res.get("stderr") or res.get("module_stderr") or "").strip()
    if stderr and (not message or message in ("non-zero return code", "MODULE FAILURE")):
        tail = stderr.splitlines()[-1]
        message = f"{message}: {tail}" if message else tail
    if not message:
        message = f"rc={res['rc']}" if "rc" in res else "failed"
    return message[:MESSAGE_LIMIT]


@dataclass
class PlayProgress:
    """The current play: its name, how many tasks it will start (when known) and how many it has started."""

    name: str
    uuid: str
    total: int | None = None
    started: int = 0


@dataclass
class RunTracker:
    """Everything the events of one run have said so far. Feed it every event with `feed`."""

    plan: PlanLookup | None = None
    play: PlayProgress | None = None
    task: str = ""
    task_hosts_started: set[str] = field(default_factory=set)
    task_hosts_done: set[str] = field(default_factory=set)
    stats: dict[str, HostStats] = field(default_factory=dict)
    final_stats: dict[str, HostStats] | None = None
    failure_candidates: list[FailedTask] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events_seen: int = 0

    def feed(self, event: Event) -> None:
        """Take one ansible-runner event into account."""
        self.events_seen += 1
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = PlayProgress(name=str(data.get("play") or data.get("name") or ""), uuid=str(data.get("play_uuid", "")))
            self.task = ""
            self.task_hosts_started, self.task_hosts_done = set(), set()
        elif kind in TASK_START_EVENTS:
            self._task_start(data)
        elif kind == "runner_on_start" and data.get("host"):
            self.task_hosts_started.add(str(data["host"]))
        elif kind in HOST_END_EVENTS and data.get("host"):
            self._host_end(kind, data)
        elif kind == "playbook_on_stats":
            self.final_stats = stats_from_recap(data)
        elif kind in ("verbose", "error"):
            self._output_line(str(event.get("stdout") or ""))

    def _output_line(self, stdout: str) -> None:
        """Keep Ansible's own error lines (syntax errors, missing modules: runs that fail before any host does),
        each with the `Origin:` line that follows it."""
        line = ANSI_ESCAPE.sub("", stdout).strip()
        if line.startswith(("[ERROR]", "ERROR!")):
            self.errors.append(line[:MESSAGE_LIMIT])
        elif line.startswith("Origin:") and self.errors and "Origin:" not in self.errors[-1]:
            self.errors[-1] = f"{self.errors[-1]} ({line})"

    def _task_start(self, data: Mapping[str, Any]) -> None:
        self.task = str(data.get("task") or data.get("name") or "")
        self.task_hosts_started, self.task_hosts_done = set(), set()
        if self.play is None:
            return
        self.play.started += 1
        if self.play.total is None and self.plan is not None:
            self.play.total = self.plan(self.play.uuid)

    def _host_end(self, kind: str, data: Mapping[str, Any]) -> None:
        host = str(data["host"])
        self.task_hosts_done.add(host)
        res = data.get("res") or {}
        stats = self.stats.get(host, HostStats())
        if kind == "runner_on_ok":
            changed = bool(isinstance(res, Mapping) and res.get("changed"))
            stats = replace(stats, ok=stats.ok + 1, changed=stats.changed + changed)
        elif kind == "runner_on_skipped":
            stats = replace(stats, skipped=stats.skipped + 1)
        elif kind == "runner_on_failed" and data.get("ignore_errors"):
            stats = replace(stats, ok=stats.ok + 1, ignored=stats.ignored + 1)
        else:
            unreachable = kind == "runner_on_unreachable"
            if unreachable:
                stats = replace(stats, unreachable=stats.unreachable + 1)
            else:
                stats = replace(stats, failed=stats.failed + 1)
            self.failure_candidates.append(
                FailedTask(
                    host=host,
                    task=str(data.get("task") or ""),
                    message=failure_message(res),
                    play=str(data.get("play") or ""),
                    action=str(data.get("resolved_action") or data.get("task_action") or ""),
                    unreachable=unreachable,
                )
            )
        self.stats[host] = stats

    @property
    def failed_hosts(self) -> int:
        """How many hosts have failed a task so far (live count; rescued failures included until the recap)."""
        return sum(1 for stats in (self.final_stats or self.stats).values() if stats.failed)

    @property
    def unreachable_hosts(self) -> int:
        """How many hosts have been unreachable so far."""
        return sum(1 for stats in (self.final_stats or self.stats).values() if stats.unreachable)

    def failed_tasks(self) -> list[FailedTask]:
        """The failures that counted. With the recap, a host's last `failed` failures and last `unreachable`
        unreachables are kept: earlier ones were rescued (Ansible stops a host on its first unrescued failure)."""
        if self.final_stats is None:
            return list(self.failure_candidates)
        keep: set[int] = set()
        for host, stats in self.final_stats.items():
            for unreachable, count in ((False, stats.failed), (True, stats.unreachable)):
                indexes = [
                    i
                    for i, task in enumerate(self.failure_candidates)
                    if task.host == host and task.unreachable == unreachable
                ]
                keep.update(indexes[-count:] if count else [])
        return [task for i, task in enumerate(self.failure_candidates) if i in keep]

    def result(
        self, status: str, rc: int, duration: float, artifact_dir: Path | None = None, playbook: str = ""
    ) -> Result:
        """The run's result, once ansible-runner has said how it ended."""
        return Result(
            status=status,
            rc=rc,
            hosts=dict(self.final_stats if self.final_stats is not None else self.stats),
            failed_tasks=self.failed_tasks(),
            errors=list(self.errors),
            duration=duration,
            artifact_dir=artifact_dir,
            playbook=playbook,
        )


def stats_from_recap(data: Mapping[str, Any]) -> dict[str, HostStats]:
    """Per-host stats from a playbook_on_stats event's data (ok, changed, failures, dark, skipped, ...)."""
    keys = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
        "rescued": "rescued",
        "ignored": "ignored",
    }
    hosts: set[str] = set()
    for key in [*keys, "processed"]:
        counts = data.get(key)
        if isinstance(counts, Mapping):
            hosts.update(counts)
    stats: dict[str, HostStats] = {}
    for host in sorted(hosts):
        values = {}
        for source, target in keys.items():
            counts = data.get(source)
            values[target] = int(counts.get(host, 0)) if isinstance(counts, Mapping) else 0
        stats[host] = HostStats(**values)
    return stats
