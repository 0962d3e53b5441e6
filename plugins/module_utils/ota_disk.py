# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash-safe disk primitives of the over-the-air updater, each followed by a numbered step boundary.

Every change the updater makes to the disk goes through Disk: files are written to a temporary name, synced
and renamed; links are replaced with rename(2); directories are fsynced after every entry change. After each
change Disk calls step_hook(number, label), so that a test can stop the process at every boundary (each
write, fsync, rename, link, unlink) and check what `recover` makes of the state left behind."""

from __future__ import absolute_import, division, print_function

import errno
import json
import os
import shutil
import time

from .ota_fetch import write_all

__metaclass__ = type


class Disk:
    """The primitives, rooted at root. timings["switch_seconds"] collects the duration of every link switch."""

    def __init__(self, root, step_hook=None, chunk=1024 * 1024):
        self.root = os.path.abspath(root)
        self.step_hook = step_hook
        self.chunk = chunk
        self.steps = 0
        self.timings = {}

    def step(self, label):
        self.steps += 1
        if self.step_hook is not None:
            self.step_hook(self.steps, label)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def fsync_dir(self, path):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.step("fsync-dir %s" % os.path.relpath(path, self.root))

    def makedirs(self, path):
        if not os.path.isdir(path):
            os.makedirs(path, 0o755)
            self.step("mkdir %s" % os.path.relpath(path, self.root))
            self.fsync_dir(os.path.dirname(path))

    def read_blocks(self, path):
        with open(path, "rb") as handle:
            while True:
                block = handle.read(self.chunk)
                if not block:
                    return
                yield block

    def write_blocks(self, path, blocks, mode=0o644):
        """Write blocks to a new file at path (each write a step), set its mode, fsync it."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            for block in blocks:
                write_all(fd, block)
                self.step("write %s" % os.path.basename(path))
            os.fchmod(fd, mode)
            os.fsync(fd)
            self.step("fsync %s" % os.path.basename(path))
        finally:
            os.close(fd)

    def rename(self, src, dst, label=None):
        os.rename(src, dst)
        self.step(label or "rename %s" % os.path.basename(dst))

    def write_atomic(self, path, data=None, src=None, mode=0o644):
        """Replace path with data (or a copy of src): a synced temporary file renamed over it, then fsync the dir."""
        tmp = path + ".tmp"
        self.write_blocks(tmp, [data] if src is None else self.read_blocks(src), mode)
        self.rename(tmp, path)
        self.fsync_dir(os.path.dirname(path))

    def write_json(self, path, doc, mode=0o644):
        self.write_atomic(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"), mode=mode)

    def read_json(self, path):
        """The JSON object in path, or None when it is missing or not a complete JSON object."""
        try:
            with open(path, "rb") as handle:
                doc = json.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def unlink(self, path, sync=True):
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            return
        self.step("unlink %s" % os.path.relpath(path, self.root))
        if sync:
            self.fsync_dir(os.path.dirname(path))

    def link(self, src, dst):
        os.link(src, dst)
        self.step("link %s" % os.path.basename(dst))

    def set_link(self, name, target, base=None):
        """Point base/name at target atomically: a new symlink renamed over the old one, then fsync base.

        There is no moment where base/name is missing or names anything but the old or the new target."""
        base = base or self.root
        path = os.path.join(base, name)
        if os.path.islink(path) and os.readlink(path) == target:
            return
        tmp = os.path.join(base, "." + name + ".new")
        self.unlink(tmp, sync=False)
        os.symlink(target, tmp)
        self.step("symlink .%s.new" % name)
        started = time.monotonic()
        self.rename(tmp, path, "rename %s" % name)
        self.fsync_dir(base)
        self.timings.setdefault("switch_seconds", []).append(time.monotonic() - started)

    def remove_tree(self, parent, name):
        """Remove parent/name: renamed to .trash-name first, so that a half-removed tree never keeps its name."""
        path = os.path.join(parent, name)
        if not os.path.lexists(path):
            return
        trash = os.path.join(parent, ".trash-" + name)
        if os.path.lexists(trash):
            shutil.rmtree(trash)
            self.step("rmtree .trash-%s" % name)
        self.rename(path, trash, "rename %s to trash" % name)
        self.fsync_dir(parent)
        shutil.rmtree(trash)
        self.step("rmtree .trash-%s" % name)
