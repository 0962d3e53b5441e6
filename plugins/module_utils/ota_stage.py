# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Staging of a new program set: each program streamed into the new slot and hashed in the same pass (or
hard-linked from the running set when its bytes are already there), checked, synced. running is never touched.

A program is written as .<name>.part and renamed to <name> only once its size and hashes are right, so a
file under its final name is always complete; an interrupted .part is resumed (HTTP Range) by the next apply."""

from __future__ import absolute_import, division, print_function

import hashlib
import os

from .ota_errors import NetworkError, OtaError
from .ota_fetch import Pump, open_program
from .ota_manifest import same_bytes
from .ota_slots import matches

__metaclass__ = type


class Stager:
    """Fills one slot with the programs of a manifest."""

    def __init__(self, disk, slots, timeout=30, log=None):
        self.disk = disk
        self.slots = slots
        self.timeout = timeout
        self.log = log or (lambda msg: None)

    def stage(self, slot_id, manifest, running_id):
        running = self.slots.read(running_id)
        old = dict((p["name"], p) for p in (running or {}).get("programs", []))
        for prog in manifest["programs"]:
            self.program(slot_id, prog, running_id, old.get(prog["name"]))
        self.disk.fsync_dir(os.path.join(self.slots.dir, slot_id))

    def program(self, slot_id, prog, running_id, old):
        final = self.slots.program_path(slot_id, prog["name"])
        part = self.slots.program_path(slot_id, "." + prog["name"] + ".part")
        if os.path.lexists(final):  # staged by an earlier, interrupted run: it was renamed only once verified
            if os.path.isfile(final) and not os.path.islink(final) and matches(final, prog):
                return
            self.disk.unlink(final)
        if old and running_id and same_bytes(old, prog):
            src = self.slots.program_path(running_id, prog["name"])
            if self._local_copy(src, part, final, prog, old["mode"]):
                return
        self._download(part, final, prog)

    def _local_copy(self, src, part, final, prog, old_mode):
        """Hard-link (same mode) or copy the running program instead of downloading it, checked by its hashes."""
        self.disk.unlink(part, sync=False)
        if not (os.path.isfile(src) and not os.path.islink(src) and matches(src, prog)):
            self.log("%s: the running copy does not match its hashes, downloading it" % prog["name"])
            return False
        linked = False
        if old_mode == prog["mode"]:
            try:
                self.disk.link(src, part)
                linked = True
            except OSError:  # another file system, or no hard links: copy it
                linked = False
        if not linked:
            self.disk.write_blocks(part, self.disk.read_blocks(src), int(prog["mode"], 8))
        self.disk.rename(part, final, "rename %s" % prog["name"])
        return True

    def _resume_offset(self, part, prog):
        """Bytes of part worth keeping (0: start again); removes what cannot be resumed."""
        if not os.path.lexists(part):
            return 0
        if os.path.islink(part) or not os.path.isfile(part) or os.path.getsize(part) > prog["size"]:
            self.disk.unlink(part)
            return 0
        return os.path.getsize(part)

    def _download(self, part, final, prog):
        """Stream prog into part, hashing in the same pass, resuming a partial file; then rename it to final."""
        name, size, url = prog["name"], prog["size"], prog["resolved_url"]
        offset = self._resume_offset(part, prog)
        if offset == size and matches(part, prog):  # complete before the interruption: only the rename was missing
            os.chmod(part, int(prog["mode"], 8))
            self.disk.rename(part, final, "rename %s" % name)
            return
        hashers = [hashlib.md5()] + ([hashlib.sha256()] if prog.get("sha256") else [])
        if offset:
            for block in self.disk.read_blocks(part):
                for hasher in hashers:
                    hasher.update(block)
        stream, start = open_program(url, offset, self.timeout, name)
        if offset and start != offset:
            self.log("%s: the server does not resume at byte %d, downloading it again" % (name, offset))
            hashers = [hashlib.md5()] + ([hashlib.sha256()] if prog.get("sha256") else [])
        elif offset:
            self.log("%s: resuming at byte %d" % (name, offset))
        pump = Pump(name, url, size, hashers, self.disk.chunk, self.disk.step if self.disk.step_hook else None)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            if start == 0:
                os.ftruncate(fd, 0)
            os.lseek(fd, start, os.SEEK_SET)
            total = pump.run(stream, fd, start)
            self._check(prog, url, total, hashers)
            os.fchmod(fd, int(prog["mode"], 8))
            os.fsync(fd)
            self.disk.step("fsync %s" % os.path.basename(part))
        except NetworkError:
            raise  # keep what arrived: the next apply resumes it
        except OtaError:
            os.close(fd)
            fd = None
            self.disk.unlink(part)  # wrong bytes: nothing worth resuming
            raise
        finally:
            if fd is not None:
                os.close(fd)
            stream.close()
        self.disk.rename(part, final, "rename %s" % name)

    @staticmethod
    def _check(prog, url, total, hashers):
        name = prog["name"]
        if total != prog["size"]:
            raise NetworkError("programs (%s).size: %s sent %d bytes, the manifest says %d (truncated download)"
                               % (name, url, total, prog["size"]))
        if hashers[0].hexdigest() != prog["md5"]:
            raise OtaError("programs (%s).md5: downloaded %s, the manifest says %s"
                           % (name, hashers[0].hexdigest(), prog["md5"]))
        if len(hashers) > 1 and hashers[1].hexdigest() != prog["sha256"]:
            raise OtaError("programs (%s).sha256: downloaded %s, the manifest says %s" % (
                name, hashers[1].hexdigest(), prog["sha256"]))
