"""What people see during and after a run: a live progress display and the final recap, drawn with rich.

On a terminal: the current play and task, hosts done on the task, hosts failed and unreachable so far, a bar over
the play's tasks and the elapsed time, redrawn a few times a second; failures are printed above it as they happen.
Elsewhere (a CI log, a pipe): one line per play, task and failure instead. Then the recap table.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from shepherd.diffs import diff_text
from shepherd.events import TASK_START_EVENTS, Event, RunTracker, failure_message
from shepherd.exitcodes import exit_code_for
from shepherd.result import Result

STATUS_STYLE = {"successful": "bold green", "failed": "bold red", "canceled": "bold yellow", "timeout": "bold red"}


def format_duration(seconds: float) -> str:
    """Seconds as 12.3s, 4m05s or 1h02m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class ProgressDisplay:
    """Pass `on_event` to `run`; use as a context manager around the run."""

    def __init__(self, console: Console, title: str = "", show_diff: bool = False) -> None:
        self.console = console
        self.title = title
        # With --diff: print each change's diff as it happens, as ansible-playbook does.
        self.show_diff = show_diff
        self.tracker: RunTracker | None = None
        self.started = time.monotonic()
        self.live: Live | None = None
        if console.is_terminal:
            self.live = Live(self, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> ProgressDisplay:
        self.started = time.monotonic()
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.stop()

    def on_event(self, event: Event, tracker: RunTracker) -> None:
        """Take one event: remember the tracker; print failures (and, without a terminal, plays and tasks)."""
        self.tracker = tracker
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind in ("runner_on_failed", "runner_on_unreachable"):
            if not data.get("ignore_errors"):
                word = "unreachable" if kind == "runner_on_unreachable" else "failed"
                line = Text.assemble(
                    (f"{word}: ", "bold red"),
                    (str(data.get("host", "")), "bold"),
                    f" | {data.get('task', '')} | {failure_message(data.get('res'))}",
                )
                self.console.print(line, highlight=False)
        elif self.show_diff and kind in ("runner_on_ok", "runner_item_on_ok"):
            self._print_diff(data)
        elif self.live is None and kind == "playbook_on_play_start":
            self.console.print(f"PLAY {data.get('play', '')}", highlight=False)
        elif self.live is None and kind in TASK_START_EVENTS:
            self.console.print(f"  TASK {data.get('task', '')}", highlight=False)

    def _print_diff(self, data: Mapping[str, Any]) -> None:
        res = data.get("res")
        if not isinstance(res, Mapping) or not res.get("changed"):
            return
        text = diff_text(res.get("diff"))
        if not text:
            return
        self.console.print(Text.assemble(("changed: ", "bold yellow"), (str(data.get("host", "")), "bold"),
                                         f" | {data.get('task', '')}"), highlight=False)  # fmt: skip
        styles = {"+": "green", "-": "red", "@": "cyan"}
        for line in text.splitlines():
            self.console.print(Text(line, style=styles.get(line[:1], "")), highlight=False, soft_wrap=True)

    def __rich__(self) -> RenderableType:
        tracker = self.tracker
        elapsed = format_duration(time.monotonic() - self.started)
        if tracker is None or tracker.play is None:
            return Text(f"{self.title} starting ({elapsed})")
        play = tracker.play
        total = max(play.total, play.started) if play.total is not None else None
        hosts = Text.assemble(
            ("hosts ", "dim"),
            f"{len(tracker.task_hosts_done)}/{len(tracker.task_hosts_started)} done",
            ("  failed ", "dim"),
            (str(tracker.failed_hosts), "red" if tracker.failed_hosts else ""),
            ("  unreachable ", "dim"),
            (str(tracker.unreachable_hosts), "magenta" if tracker.unreachable_hosts else ""),
        )
        # Tasks finished, plus the share of the current task's hosts that are done with it.
        completed = max(0, play.started - 1)
        if tracker.task_hosts_started:
            completed += len(tracker.task_hosts_done) / len(tracker.task_hosts_started)
        progress_row = Table.grid(padding=(0, 1))
        progress_row.add_row(
            ProgressBar(total=total, completed=completed, width=40),
            Text(f"task {play.started}/{total if total is not None else '?'}  {elapsed}"),
        )
        return Group(
            Text.assemble(("play ", "dim"), (play.name, "bold")),
            Text.assemble(("task ", "dim"), (tracker.task, "cyan")),
            hosts,
            progress_row,
        )


def recap_table(result: Result) -> Table:
    """The per-host recap: ok, changed, unreachable, failed, skipped, rescued, ignored."""
    table = Table(title="Recap", title_justify="left")
    table.add_column("host")
    for column in ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"):
        table.add_column(column, justify="right")
    for host, stats in sorted(result.hosts.items()):
        style = "red" if stats.failed else "magenta" if stats.unreachable else "yellow" if stats.changed else "green"
        table.add_row(
            Text(host, style=style),
            str(stats.ok),
            str(stats.changed),
            str(stats.unreachable),
            str(stats.failed),
            str(stats.skipped),
            str(stats.rescued),
            str(stats.ignored),
        )
    return table


def failures_table(result: Result) -> Table:
    """The failures that counted: host, play, task and message."""
    table = Table(title="Failed tasks", title_justify="left", title_style="bold red")
    for column in ("host", "play", "task", "message"):
        table.add_column(column, overflow="fold")
    for task in result.failed_tasks:
        message = f"unreachable: {task.message}" if task.unreachable else task.message
        table.add_row(task.host, task.play, task.task, message)
    return table


def print_recap(console: Console, result: Result) -> None:
    """The recap table, the failed tasks, Ansible's error lines and a one-line verdict with the exit code."""
    if result.hosts:
        console.print(recap_table(result))
    if result.failed_tasks:
        console.print(failures_table(result))
    for error in result.errors:
        console.print(Text(error, style="red"), highlight=False)
    verdict = Text.assemble(
        (result.status, STATUS_STYLE.get(result.status, "bold")),
        f" in {format_duration(result.duration)} (exit {int(exit_code_for(result))}, ansible rc {result.rc})",
        ("  artifacts: ", "dim"),
        (str(result.artifact_dir or "-"), "dim"),
    )
    console.print(verdict, highlight=False, soft_wrap=True)
