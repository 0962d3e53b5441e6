"""Reading the plan file the shepherd_plan callback plugin writes: each play's task count, by play uuid."""

from __future__ import annotations

import json
from pathlib import Path


class PlanFile:
    """The JSON-lines file `{"play_uuid": ..., "tasks": N}` one run's callback plugin appends to.

    Calling it with a play's uuid returns the play's task count, or None while the line is not written (the
    plugin writes it before the play's first task starts, so by the first task-start event it is there).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._counts: dict[str, int] = {}

    def __call__(self, play_uuid: str) -> int | None:
        if play_uuid not in self._counts:
            self._read()
        return self._counts.get(play_uuid)

    def _read(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
                self._counts[str(entry["play_uuid"])] = int(entry["tasks"])
            except (ValueError, KeyError, TypeError):
                continue
