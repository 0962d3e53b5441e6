# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The slot engine of shepherd.fleet's over-the-air updater: apply, rollback, recover, status on one ROOT.

The one engine, used by the module shepherd.fleet.ota_update (push mode) and by ota-agent (pull mode, the role
ota_device installs these same files). Layout (docs/ota.md): ota_slots (slots and links), ota_journal (phases),
ota_stage (downloads), ota_selfupdate (the agent's own updates), all changes through ota_disk.

The invariant after any operation, and after `recover` following a crash at any point: running names a
complete, verified set (the old one or the new one, never a mix) and backup the previous good set."""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import hashlib
import os
import subprocess
import sys
import time

from .ota_disk import Disk
from .ota_errors import EXIT_BUSY, EXIT_ROLLED_BACK, OtaError
from .ota_fetch import fetch_bytes, list_keys, verify_signature
from .ota_journal import Journal, now
from .ota_manifest import CHUNK, parse_manifest, program_key, program_url, same_bytes
from .ota_selfupdate import AgentStore
from .ota_slots import LINKS, Slots
from .ota_stage import Stager

__metaclass__ = type

DEFAULT_ROOT = "/opt/ota"
FREE_MARGIN = 1024 * 1024  # bytes left free on the device after staging


class Engine:
    """All operations on one ROOT. step_hook(n, label) is called after every change to the disk."""

    def __init__(self, root=DEFAULT_ROOT, step_hook=None, log=None, timeout=30, trusted_keys=None,
                 keys_dir=None, health_timeout=None, health_attempts=None, health_interval=None,
                 python=None, chunk=None):
        self.disk = Disk(root, step_hook, chunk or CHUNK)
        self.root = self.disk.root
        self.slots = Slots(self.disk)
        self.journal = Journal(self.disk)
        self.agents = AgentStore(self.disk, self.journal, python or sys.executable)
        self.log = log or (lambda msg: None)
        self.stager = Stager(self.disk, self.slots, timeout, self.log)
        self.timeout = timeout
        self.keys = list_keys(trusted_keys, keys_dir)
        self.health_overrides = {"timeout": health_timeout, "attempts": health_attempts, "interval": health_interval}
        self._lock_fd = None

    @property
    def timings(self):
        return self.disk.timings

    # -- lock -------------------------------------------------------------------------------------------------
    def lock(self, wait=60):
        """One operation at a time per ROOT (the timer, the boot unit and Ansible may meet)."""
        self.disk.makedirs(self.root)
        fd = os.open(self.disk.path(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.time() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.time() >= deadline:
                    os.close(fd)
                    raise OtaError("another ota-agent holds %s" % self.disk.path(".lock"), code=EXIT_BUSY)
                time.sleep(0.2)
        self._lock_fd = fd

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- manifest and plan ------------------------------------------------------------------------------------
    def load_manifest(self, url, signature_url=None):
        """Fetch, authenticate and validate a manifest; nothing is written. Returns (manifest, raw bytes)."""
        raw = fetch_bytes(url, self.timeout)
        if self.keys:
            sig = fetch_bytes(signature_url or url + ".sig", self.timeout, 4096, "signature")
            if not verify_signature(raw, sig, self.keys):
                raise OtaError("signature: %s is not signed by any of the %d trusted keys" % (url, len(self.keys)))
        manifest = parse_manifest(raw)
        for prog in manifest["programs"]:
            prog["resolved_url"] = program_url(url, prog)
        manifest["digest"] = hashlib.sha256(raw).hexdigest()
        manifest["url"] = url
        return manifest, raw

    def plan(self, manifest, allow_downgrade=False, retry_rejected=False):
        """What applying manifest would do, without writing: raises OtaError when it would be refused."""
        running = self.slots.read(self.slots.link_slot("running"))
        by_name = dict((p["name"], p) for p in (running or {}).get("programs", []))
        actions = []
        for prog in manifest["programs"]:
            old = by_name.get(prog["name"])
            entry = {"name": prog["name"], "version": prog["version"], "old_version": old["version"] if old else None}
            if old and same_bytes(old, prog):
                entry["action"] = "keep" if old["mode"] == prog["mode"] else "copy"
            else:
                entry.update(action="download", size=prog["size"])
            actions.append(entry)
        current = bool(running) and running["sequence"] == manifest["sequence"] and \
            sorted(program_key(p) for p in running["programs"]) == sorted(program_key(p) for p in manifest["programs"])
        removed = sorted(set(by_name) - set(p["name"] for p in manifest["programs"]))
        result = {"current": current, "programs": actions, "removed": removed,
                  "download_bytes": sum(a.get("size", 0) for a in actions if a["action"] == "download")}
        if current:
            return result
        if running and manifest["sequence"] <= running["sequence"] and not allow_downgrade:
            raise OtaError("sequence: %d is not higher than the running sequence %d (release %s); refusing a "
                           "downgrade (allow it explicitly)" % (manifest["sequence"], running["sequence"],
                                                                running["release"]))
        rejected = self.journal.is_rejected(manifest["digest"])
        if rejected and not retry_rejected:
            raise OtaError("release %s (sequence %d) was rolled back on %s: %s; not applying it again unless "
                           "asked to retry" % (manifest["release"], manifest["sequence"], rejected.get("time"),
                                               rejected.get("reason")))
        return result

    # -- apply ------------------------------------------------------------------------------------------------
    def apply(self, url, allow_downgrade=False, retry_rejected=False, signature_url=None):
        """Bring running to the manifest at url. Returns a result dict; raises OtaError on failure."""
        manifest = self.load_manifest(url, signature_url)[0]
        self.lock()
        try:
            self._finish_pending()
            return self._apply(manifest, allow_downgrade, retry_rejected)
        finally:
            self.unlock()

    def _apply(self, manifest, allow_downgrade, retry_rejected):
        before = self.slots.info(self.slots.link_slot("running"))
        plan = self.plan(manifest, allow_downgrade, retry_rejected)
        if plan["current"]:
            self._sync_agent()
            if (self.journal.state().get("last_result") or {}).get("result") != "current":
                self.journal.record("current", manifest)
            return {"result": "current", "changed": False, "before": before, "after": before, "plan": plan}
        try:
            slot_id = self._stage(manifest, plan)
        except OtaError as exc:
            self.journal.record("failed", manifest, str(exc))
            raise
        except OSError as exc:
            err = OtaError("%s while staging release %s: %s" % (
                "disk full" if exc.errno == errno.ENOSPC else "I/O error", manifest["release"], exc))
            self._discard_staging()
            self.journal.record("failed", manifest, str(err))
            raise err
        journal = {"op": "apply", "phase": "switch", "slot": slot_id, "prev": self.slots.link_slot("running"),
                   "prev_backup": self.slots.link_slot("backup"), "digest": manifest["digest"],
                   "release": manifest["release"], "sequence": manifest["sequence"], "attempts": 0,
                   "health": self._health_settings(manifest["health"]), "started": now()}
        self.journal.write(journal)
        self._switch(journal)
        result = self._trial(journal)
        result["before"] = before
        result["plan"] = plan
        return result

    def _health_settings(self, health):
        out = dict(health)
        out.update((k, v) for k, v in self.health_overrides.items() if v is not None)
        return out

    def _discard_staging(self):
        """Forget the slot being staged (after an error that resuming would not cure)."""
        journal = self.journal.read()
        if not journal or journal.get("phase") != "stage":
            return
        self.disk.unlink(self.disk.path("update"))
        self.journal.clear()
        self.slots.remove(journal["slot"])

    def _stage(self, manifest, plan):
        """Build the new slot next to running, verified and synced; returns its id. running is not touched."""
        journal = self.journal.read()
        if journal and journal.get("phase") == "stage" and journal.get("digest") == manifest["digest"] \
                and os.path.isdir(os.path.join(self.slots.dir, journal["slot"])):
            slot_id = journal["slot"]
            self.log("resuming the staging of release %s in slot %s" % (manifest["release"], slot_id))
        else:
            self._discard_staging()
            self._check_space(manifest, plan)
            slot_id = "%d-%s" % (manifest["sequence"], os.urandom(4).hex())
            self.journal.write({"op": "apply", "phase": "stage", "slot": slot_id, "digest": manifest["digest"],
                                "release": manifest["release"], "sequence": manifest["sequence"], "started": now()})
            self.slots.create(slot_id)
            self.slots.point("update", slot_id)
        started = time.monotonic()
        self.stager.stage(slot_id, manifest, self.slots.link_slot("running"))
        self.disk.timings["stage_seconds"] = time.monotonic() - started
        agent = [p for p in manifest["programs"] if p.get("agent")]
        tested = None
        if agent and agent[0]["md5"] != self.agents.current_md5():
            error = self.agents.self_test(self.slots.program_path(slot_id, agent[0]["name"]))
            if error:
                self._discard_staging()
                raise OtaError("programs (%s): the new agent failed its self-test, nothing was changed: %s"
                               % (agent[0]["name"], error))
            tested = agent[0]["md5"]
        doc = {"agent_self_tested": tested, "id": slot_id, "release": manifest["release"], "sequence": manifest["sequence"],
               "digest": manifest["digest"], "url": manifest["url"], "created": now(), "health": manifest["health"],
               "programs": [dict((k, v) for k, v in p.items() if k != "resolved_url") for p in manifest["programs"]]}
        self.disk.write_json(os.path.join(self.slots.dir, slot_id, "slot.json"), doc)  # written last: complete
        return slot_id

    def _check_space(self, manifest, plan):
        need = sum(p["size"] for p, a in zip(manifest["programs"], plan["programs"]) if a["action"] != "keep")
        self.disk.makedirs(self.root)
        fs = os.statvfs(self.root)
        free = fs.f_bavail * fs.f_frsize
        if need + FREE_MARGIN > free:
            raise OtaError("disk full: release %s needs %d bytes in %s, only %d are free" % (
                manifest["release"], need, self.root, free))

    # -- switch, health check, commit, revert -----------------------------------------------------------------
    def _switch(self, journal):
        """backup := previous running, running := new slot, update removed. Each link changes atomically."""
        if journal.get("prev"):
            self.slots.point("backup", journal["prev"])
        self.slots.point("running", journal["slot"])
        self.disk.unlink(self.disk.path("update"))
        journal["phase"] = "trial"
        self.journal.write(journal)

    def _trial(self, journal):
        """Health-check the new running set; commit it, or roll back once it failed `attempts` times in a row."""
        health = journal["health"]
        last_error = journal.get("last_error")
        while True:
            if journal["attempts"] >= health["attempts"]:
                return self._revert(journal, "health check failed %d times in a row: %s" % (
                    journal["attempts"], last_error))
            journal["attempts"] += 1  # counted before running it: a crash or reboot during the check is a failure
            self.journal.write(journal)
            last_error = self.run_health(health, journal)
            if last_error is None:
                return self._commit(journal)
            self.log("health check %d/%d failed: %s" % (journal["attempts"], health["attempts"], last_error))
            journal["last_error"] = last_error
            if journal["attempts"] < health["attempts"] and health["interval"]:
                time.sleep(health["interval"])

    def run_health(self, health, journal):
        """None when the health command passes (or there is none), else what went wrong."""
        command = health.get("command")
        if not command:
            return None
        env = dict(os.environ, OTA_ROOT=self.root, OTA_RELEASE=str(journal.get("release")),
                   OTA_SEQUENCE=str(journal.get("sequence")), OTA_SLOT=str(journal.get("slot")))
        try:
            proc = subprocess.run(command, shell=True, cwd=self.disk.path("running"), env=env, timeout=health["timeout"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        except subprocess.TimeoutExpired:
            return "%r timed out after %s s" % (command, health["timeout"])
        except OSError as exc:
            return "%r could not run: %s" % (command, exc)
        if proc.returncode != 0:
            tail = proc.stdout.decode("utf-8", "replace").strip()[-400:]
            return "%r exited with %d%s" % (command, proc.returncode, (": " + tail) if tail else "")
        return None

    def _commit(self, journal):
        if journal.get("phase") != "commit":
            journal["phase"] = "commit"
            self.journal.write(journal)
        self.journal.record("updated", journal, None, reject=None)
        self.journal.clear()
        self.gc()
        self._sync_agent()
        return {"result": "updated", "changed": True, "after": self.slots.info(self.slots.link_slot("running")),
                "attempts": journal["attempts"]}

    def _revert(self, journal, reason):
        """Put running and backup back as they were before the apply, forget the new slot, reject its manifest."""
        if journal.get("phase") != "revert":
            journal["phase"] = "revert"
            journal["reason"] = reason
            self.journal.write(journal)
        reason = journal["reason"]
        self.slots.point("running", journal.get("prev"))
        self.slots.point("backup", journal.get("prev_backup"))
        self.disk.unlink(self.disk.path("update"))
        self.journal.record("rolled_back", journal, reason, reject=True)
        self.journal.clear()
        self.gc()
        self._sync_agent()
        raise OtaError("release %s (sequence %s) rolled back: %s" % (journal.get("release"), journal.get("sequence"),
                                                                     reason), code=EXIT_ROLLED_BACK, rolled_back=True)

    # -- rollback on demand -----------------------------------------------------------------------------------
    def rollback(self):
        """Swap running and backup: the set that was running becomes the backup, and its manifest is rejected."""
        self.lock()
        try:
            self._finish_pending()
            running, backup = self.slots.link_slot("running"), self.slots.link_slot("backup")
            if not backup or self.slots.verify(backup, deep=True):
                raise OtaError("rollback: there is no complete backup set to roll back to")
            journal = {"op": "rollback", "phase": "swap", "from": running, "to": backup, "started": now()}
            self.journal.write(journal)
            return self._swap(journal)
        finally:
            self.unlock()

    def _swap(self, journal):
        self.slots.point("running", journal["to"])
        if journal.get("from"):
            self.slots.point("backup", journal["from"])
        old = self.slots.read(journal.get("from")) or {}
        new = self.slots.read(journal["to"])
        self.journal.record("rolled_back", {"release": new["release"], "sequence": new["sequence"],
                                            "digest": old.get("digest")},
                            "rolled back on demand from release %s" % old.get("release"), reject=bool(old))
        self.journal.clear()
        self._sync_agent()
        return {"result": "rolled_back", "changed": True, "after": self.slots.info(journal["to"]),
                "before": self.slots.info(journal.get("from"))}

    # -- recover ----------------------------------------------------------------------------------------------
    def recover(self):
        """Finish or undo whatever a crash interrupted; afterwards running is a complete set (old or new)."""
        self.lock()
        try:
            done = self._finish_pending()
            running, backup = self.slots.link_slot("running"), self.slots.link_slot("backup")
            damaged = self.slots.verify(running) if os.path.lexists(self.disk.path("running")) else None
            if damaged:
                if not backup or self.slots.verify(backup, deep=True):
                    raise OtaError("recover: the running set is damaged (%s) and there is no good backup" % damaged)
                self.slots.point("running", backup)
                self.journal.record("recovered", self.slots.read(backup),
                                    "running set %s was damaged (%s): switched to the backup" % (running, damaged))
                done = "the running set was damaged: switched to the backup"
            self.gc()
            self._sync_agent()
            return {"result": "recovered", "changed": bool(done), "action": done or "nothing to do",
                    "running": self.slots.info(self.slots.link_slot("running"))}
        finally:
            self.unlock()

    def _finish_pending(self):
        """Complete the journalled operation, if any (the caller holds the lock). Returns what was done."""
        self._clean_tmp()
        journal = self.journal.read()
        if not journal:
            return None
        phase = journal.get("phase")
        if journal.get("op") == "rollback":
            self._swap(journal)
            return "finished a rollback"
        if phase == "stage":
            return None  # running untouched; the staged slot stays for the next apply to resume
        try:
            if phase == "switch":
                self._switch(journal)
                phase = "trial"
            if phase == "trial":
                self._trial(journal)
                return "finished an update"
            if phase == "commit":
                self._commit(journal)
                return "finished an update"
            if phase == "revert":
                self._revert(journal, journal.get("reason"))
        except OtaError as exc:
            if exc.rolled_back:
                self.log(str(exc))
                return "rolled back an update: %s" % exc
            raise
        raise OtaError("journal.json: unknown phase %r" % phase)

    def _clean_tmp(self):
        """Remove the temporary files a crash left (never a link or a file under its final name)."""
        for folder in (self.root, self.agents.dir):
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if (name.startswith(".") and name.endswith(".new")) or name.endswith(".tmp"):
                    self.disk.unlink(os.path.join(folder, name))

    def gc(self):
        """Remove every slot that neither running, backup nor the journal names."""
        keep = set(s for s in (self.slots.link_slot(n) for n in LINKS) if s)
        journal = self.journal.read()
        if journal:
            keep.update(journal.get(k) for k in ("slot", "prev", "prev_backup", "from", "to") if journal.get(k))
        elif os.path.lexists(self.disk.path("update")):
            keep.discard(self.slots.link_slot("update"))
            self.disk.unlink(self.disk.path("update"))
        self.slots.gc(keep)

    def _sync_agent(self):
        return self.agents.sync(self.slots.read(self.slots.link_slot("running")), self.disk.path("running"))

    # -- status -----------------------------------------------------------------------------------------------
    def status(self, deep=False):
        state = self.journal.state()
        journal = self.journal.read()
        out = {"root": self.root, "running": self.slots.info(self.slots.link_slot("running")),
               "backup": self.slots.info(self.slots.link_slot("backup")),
               "pending": dict((k, journal.get(k)) for k in ("op", "phase", "slot", "release", "sequence", "attempts"))
               if journal else None,
               "last_result": state.get("last_result"), "rejected": state.get("rejected", []),
               "agent": {"current": self.agents.current_md5(), "fallback": self.agents.fallback_md5(),
                         "error": state.get("agent_error")}}
        for key in ("running", "backup"):
            if out[key]:
                out[key]["problem"] = self.slots.verify(out[key]["slot"], deep=deep)
        return out
