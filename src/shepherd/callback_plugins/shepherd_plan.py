"""Ansible callback plugin: at each play's start, write how many tasks the play will start to the plan file.

ansible-runner's events do not say how long a play is, so the progress bar cannot know its total. This plugin
runs inside ansible-playbook, compiles each play as the play iterator will, counts the tasks that will send a
task-start event and appends one JSON line `{"play_uuid": ..., "tasks": N}` to $SHEPHERD_PLAN_FILE. The count is
a plan, not a promise: dynamic includes, handlers and serial batches add tasks at run time; with --tags or
--skip-tags no count is written (the bar then only counts up).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ansible import constants as C
from ansible import context
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.playbook.block import Block
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: shepherd_plan
    type: aggregate
    short_description: writes each play's task count for the shepherd progress display
    description:
      - Appends one JSON line per play to the file named by the SHEPHERD_PLAN_FILE environment variable.
"""


def count_tasks(items: list[Any]) -> int:
    """Tasks in these blocks that send a task-start event: every task of block and always sections except the
    implicit ones Ansible adds (flush_handlers, role_complete) and the ones tagged never (rescue sections run
    only on failure and are not counted)."""
    total = 0
    for item in items:
        if isinstance(item, Block):
            total += count_tasks(item.block) + count_tasks(item.always)
        elif not getattr(item, "implicit", False) and "never" not in (item.tags or []):
            total += 1
    return total


def gathers_facts(play: Any) -> bool:
    """Whether the play starts with the implicit fact-gathering task."""
    if play.gather_facts is None:
        return C.DEFAULT_GATHERING == "implicit"
    return boolean(play.gather_facts, strict=False)


class CallbackModule(CallbackBase):
    """Writes the plan of each play (see the module docstring)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "shepherd_plan"
    CALLBACK_NEEDS_ENABLED = False

    def v2_playbook_on_play_start(self, play: Any) -> None:
        path = os.environ.get("SHEPHERD_PLAN_FILE")
        if not path:
            return
        tags = set(context.CLIARGS.get("tags") or ["all"])
        if tags != {"all"} or context.CLIARGS.get("skip_tags"):
            return
        try:
            tasks = count_tasks(play.compile()) + gathers_facts(play)
        except Exception:  # a plan is a nicety: never break the run for it
            return
        with open(path, "a", encoding="utf-8") as plan:
            plan.write(json.dumps({"play_uuid": play._uuid, "tasks": tasks}) + "\n")
