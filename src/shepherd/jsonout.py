"""The `--json` output: one JSON object per line on stdout, the run's events and then its result.

Event lines: {"type": "event", "event": ..., "counter": ..., "created": ..., "play": ..., "task": ..., "host": ...,
"action": ..., "changed": ..., "message": ..., "diff": ...} (only the keys the event has; diff with --diff). Ansible's plain output lines
("verbose" events) are left out, except errors. The last line: {"type": "result", "exit_code": ..., ...Result.to_dict()}.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from shepherd.diffs import diff_text
from shepherd.events import ANSI_ESCAPE, Event, RunTracker, failure_message
from shepherd.exitcodes import exit_code_for
from shepherd.result import Result

FAILURE_EVENTS = ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed")


def event_record(event: Event) -> dict[str, Any] | None:
    """The compact, machine-readable form of one ansible-runner event (None for plain output lines)."""
    kind = str(event.get("event", ""))
    data = event.get("event_data") or {}
    if kind in ("verbose", "error", "debug"):
        line = ANSI_ESCAPE.sub("", str(event.get("stdout") or "")).strip()
        if not line.startswith(("[ERROR]", "ERROR!")):
            return None
        return {"type": "event", "event": "error", "counter": event.get("counter"), "message": line}
    record: dict[str, Any] = {"type": "event", "event": kind, "counter": event.get("counter"), "created": event.get("created")}
    for key, source in (("play", "play"), ("task", "task"), ("host", "host"), ("action", "resolved_action")):
        if data.get(source):
            record[key] = data[source]
    res = data.get("res")
    if kind.startswith("runner_") and isinstance(res, dict) and "changed" in res:
        record["changed"] = bool(res["changed"])
    if isinstance(res, dict) and res.get("diff") and res.get("changed"):
        record["diff"] = diff_text(res["diff"])  # only with --diff
    if kind in FAILURE_EVENTS:
        record["message"] = failure_message(res)
        record["ignore_errors"] = bool(data.get("ignore_errors"))
    if kind == "playbook_on_stats":
        record["stats"] = {key: data.get(key) or {} for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")}
    return record


class JsonLines:
    """Writes events (pass `on_event` to `run`) and the final result as JSON lines.

    When the reader goes away (`shepherd play --json | head`), the run goes on to its end (stopping a half-applied
    change because a pipe closed would be worse) and the remaining lines are dropped.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.reader_gone = False

    def on_event(self, event: Event, tracker: RunTracker) -> None:
        record = event_record(event)
        if record is not None:
            self.write(record)

    def result(self, result: Result) -> None:
        self.write({"type": "result", "exit_code": int(exit_code_for(result)), **result.to_dict()})

    def write(self, record: dict[str, Any]) -> None:
        if self.reader_gone:
            return
        try:
            self.stream.write(json.dumps(record, default=str) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.reader_gone = True
            if self.stream is sys.stdout:
                # Python flushes stdout once more at exit: point it at /dev/null so that flush cannot fail.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
