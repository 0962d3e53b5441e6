# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal and the state file of the over-the-air updater.

ROOT/journal.json names the operation under way and its phase, so that `recover` can finish or undo it after
a crash; it is written (atomically) before each phase starts and removed once the operation is over:
    apply:    stage -> switch -> trial -> commit | revert
    rollback: swap
ROOT/state.json keeps the last result (for status) and the manifests that were rolled back (not retried)."""

from __future__ import absolute_import, division, print_function

import time

__metaclass__ = type

KEEP_REJECTED = 20


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Journal:
    """journal.json and state.json under disk.root."""

    def __init__(self, disk):
        self.disk = disk
        self.file = disk.path("journal.json")
        self.state_file = disk.path("state.json")

    def read(self):
        return self.disk.read_json(self.file)

    def write(self, doc):
        self.disk.write_json(self.file, doc)

    def clear(self):
        self.disk.unlink(self.file)

    def state(self):
        return self.disk.read_json(self.state_file) or {"rejected": [], "last_result": None}

    def set_state(self, key, value):
        state = self.state()
        state[key] = value
        self.disk.write_json(self.state_file, state)

    def is_rejected(self, digest):
        for entry in self.state().get("rejected", []):
            if entry.get("digest") == digest:
                return entry
        return None

    def record(self, result, source, error=None, reject=False):
        """Remember the result of an operation; reject=True refuses source's manifest from now on, None forgives it."""
        state = self.state()
        state["last_result"] = {"result": result, "error": error, "time": now(), "release": source.get("release"),
                                "sequence": source.get("sequence")}
        digest = source.get("digest")
        if digest and reject is not False:
            rejected = [r for r in state.get("rejected", []) if r.get("digest") != digest]
            if reject:
                rejected.append({"digest": digest, "release": source.get("release"),
                                 "sequence": source.get("sequence"), "reason": error, "time": now()})
            state["rejected"] = rejected[-KEEP_REJECTED:]
        self.disk.write_json(self.state_file, state)
