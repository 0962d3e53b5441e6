# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Program sets ("slots") of the over-the-air updater and the links that name them.

    ROOT/slots/<id>/         one file per program, plus slot.json written last (its presence = complete)
    ROOT/running -> slots/<id>   the set in use; ROOT/backup -> the previous good set;
    ROOT/update -> slots/<id>    the set being staged (only while an apply is under way)
"""

from __future__ import absolute_import, division, print_function

import os
import stat

from .ota_manifest import NAME_RE, hash_file

__metaclass__ = type

LINKS = ("running", "backup", "update")
INFO_KEYS = ("name", "version", "size", "md5", "sha256", "mode", "agent")


def matches(path, prog):
    """True when the file at path has prog's size and hashes (read in full)."""
    got = hash_file(path, bool(prog.get("sha256")))
    return got["size"] == prog["size"] and got["md5"] == prog["md5"] and \
        (not prog.get("sha256") or got["sha256"] == prog["sha256"])


class Slots:
    """Reads and removes slots under disk.root; every change goes through the Disk's primitives."""

    def __init__(self, disk):
        self.disk = disk
        self.dir = disk.path("slots")

    def link_slot(self, name):
        """The slot id the link ROOT/name names, or None."""
        path = self.disk.path(name)
        if not os.path.islink(path):
            return None
        parts = os.readlink(path).split("/")
        if len(parts) != 2 or parts[0] != "slots" or not NAME_RE.match(parts[1]):
            return None
        return parts[1]

    def point(self, name, slot_id):
        """ROOT/name := slots/slot_id, or removed when slot_id is None (each an atomic change)."""
        if slot_id:
            self.disk.set_link(name, "slots/" + slot_id)
        else:
            self.disk.unlink(self.disk.path(name))

    def program_path(self, slot_id, name):
        return os.path.join(self.dir, slot_id, name)

    def read(self, slot_id):
        """slot.json of a complete slot, else None."""
        if not slot_id:
            return None
        doc = self.disk.read_json(os.path.join(self.dir, slot_id, "slot.json"))
        return doc if doc is not None and doc.get("id") == slot_id else None

    def verify(self, slot_id, deep=False):
        """None when slot_id is complete and intact, else a message saying what is wrong."""
        doc = self.read(slot_id)
        if doc is None:
            return "slot %s: no complete slot.json" % slot_id
        for prog in doc["programs"]:
            path = self.program_path(slot_id, prog["name"])
            try:
                info = os.lstat(path)
            except OSError:
                return "slot %s: %s is missing" % (slot_id, prog["name"])
            if not stat.S_ISREG(info.st_mode):  # a link could point out of the slot
                return "slot %s: %s is not a regular file" % (slot_id, prog["name"])
            if info.st_size != prog["size"]:
                return "slot %s: %s has %d bytes, expected %d" % (slot_id, prog["name"], info.st_size, prog["size"])
            if deep and not matches(path, prog):
                return "slot %s: %s does not match its hashes" % (slot_id, prog["name"])
        return None

    def info(self, slot_id):
        """What status reports about a slot: release, sequence and each program's version and hashes."""
        doc = self.read(slot_id)
        if doc is None:
            return None
        return {"slot": slot_id, "release": doc["release"], "sequence": doc["sequence"], "digest": doc.get("digest"),
                "programs": [dict((k, p.get(k)) for k in INFO_KEYS) for p in doc["programs"]]}

    def create(self, slot_id):
        self.disk.makedirs(self.dir)
        os.mkdir(os.path.join(self.dir, slot_id), 0o755)
        self.disk.step("mkdir slot %s" % slot_id)
        self.disk.fsync_dir(self.dir)

    def remove(self, slot_id):
        self.disk.remove_tree(self.dir, slot_id)

    def gc(self, keep):
        """Remove every slot whose id is not in keep, and what an interrupted removal left."""
        if not os.path.isdir(self.dir):
            return
        for name in sorted(os.listdir(self.dir)):
            if name.startswith(".trash-"):
                self.disk.remove_tree(self.dir, name)
            elif name not in keep:
                self.remove(name)
