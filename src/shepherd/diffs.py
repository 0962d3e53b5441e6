"""Turning the `diff` of a module result (with --diff) into unified-diff text, as ansible-playbook shows it."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

DIFF_LIMIT = 200  # lines per diff; a huge generated file must not flood the terminal


def diff_text(diff: Any) -> str:
    """A module result's `diff` (one mapping or a list of them: before/after with headers, or `prepared` text)
    as unified-diff text; empty when there is nothing to show."""
    parts = diff if isinstance(diff, list) else [diff]
    lines: list[str] = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if part.get("prepared"):
            lines += str(part["prepared"]).rstrip("\n").splitlines()
            continue
        before, after = part.get("before"), part.get("after")
        if before is None and after is None:
            continue
        if isinstance(before, (dict, list)) or isinstance(after, (dict, list)):
            before, after = repr(before), repr(after)
        lines += difflib.unified_diff(
            str(before or "").splitlines(),
            str(after or "").splitlines(),
            fromfile=str(part.get("before_header") or "before"),
            tofile=str(part.get("after_header") or "after"),
            lineterm="",
        )
    if len(lines) > DIFF_LIMIT:
        lines = lines[:DIFF_LIMIT] + [f"... {len(lines) - DIFF_LIMIT} more lines in the run's artifacts"]
    return "\n".join(lines)
