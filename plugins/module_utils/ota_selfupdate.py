# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Self-update of ota-agent: the agent is a program of the manifest ("agent": true), a Python zip application
built by `ota-agent bundle` from these very ota_*.py files.

    ROOT/agent/ota-agent-<md5>.pyz            agents, named by their md5 (checked before each use)
    ROOT/agent/current  -> ota-agent-<md5>.pyz   the agent the launcher runs
    ROOT/agent/fallback -> ota-agent-<md5>.pyz   the previous one, run when current is damaged

A new agent must pass `--self-test` (a whole update cycle in a scratch directory) before it is staged for good,
and again before current points at it; the old agent stays as the fallback.

Which agent runs (launcher_choice): the highest version among agent/current, agent/fallback and the copy the
role (or a checkout) installed; on a tie the self-updated one. So re-running an older role never downgrades a
device that updated itself, and a newer role is not shadowed by an old self-updated agent. An operator who
wants the installed copy whatever its version says so (ota_device_agent_prefer_installed)."""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import re
import subprocess
import sys
import zipfile

from .ota_errors import OtaError
from .ota_slots import matches

__metaclass__ = type

AGENT_RE = re.compile(r"^ota-agent-([0-9a-f]{32})\.pyz\Z")
PACKAGE = "ota_agent"  # the package name inside a bundle
MAIN = "import sys\nfrom %s.ota_agent_cli import main\nsys.exit(main())\n" % PACKAGE
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same sources always give the same bytes (and md5)


VERSION_RE = re.compile(r'(?m)^AGENT_VERSION = "([^"]*)"$')
NUMBERS_RE = re.compile(r"^(\d+(?:\.\d+)*)")


def version_key(version):
    """A sortable key for an agent version ("1.10.0" > "1.9.2"; "1.1.0-rc1" == "1.1.0"); None when unreadable."""
    match = NUMBERS_RE.match(version or "")
    return tuple(int(n) for n in match.group(1).split(".")) if match else None


def bundle_version(path):
    """AGENT_VERSION inside the agent bundle at path, or None when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read(PACKAGE + "/ota_agent_cli.py").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return None
    match = VERSION_RE.search(text)
    return match.group(1) if match else None


def launcher_choice(agent_dir, installed_version, prefer_installed=False):
    """(link name or None for the installed copy, [messages]): which agent the launcher hands over to."""
    notes = []
    if prefer_installed:
        return None, notes
    installed = version_key(installed_version) or (0,)
    for link in ("current", "fallback"):
        path = os.path.join(agent_dir, link)
        if not os.path.lexists(path):
            continue
        if not intact_agent(path):
            notes.append("agent/%s is damaged, not using it" % link)
            continue
        version = bundle_version(path)
        key = version_key(version)
        if key is not None and key >= installed:
            return link, notes
        notes.append("agent/%s (%s) is older than the installed agent %s, running the installed one"
                     % (link, version or "no readable version", installed_version))
        return None, notes  # fallback is older still: the installed copy is the newest
    return None, notes


def link_md5(link):
    """The md5 a link's target name claims (ota-agent-<md5>.pyz), or None."""
    if not os.path.islink(link):
        return None
    match = AGENT_RE.match(os.readlink(link))
    return match.group(1) if match else None


def intact_agent(link):
    """True when link names an agent file whose bytes have the md5 its name claims."""
    want = link_md5(link)
    if want is None or not os.path.isfile(link):
        return False
    digest = hashlib.md5()
    with open(link, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest() == want


def bundle(dest, version=None):
    """Write the agent as a zip application to dest (deterministic bytes); version overrides AGENT_VERSION."""
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(n for n in os.listdir(here) if n.startswith("ota_") and n.endswith(".py"))
    tmp = dest + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [("__main__.py", MAIN), (PACKAGE + "/__init__.py", "")]
        for name in names:
            with open(os.path.join(here, name)) as handle:
                text = handle.read()
            if version is not None and name == "ota_agent_cli.py":
                text = re.sub(r'(?m)^AGENT_VERSION = "[^"]*"$', 'AGENT_VERSION = "%s"' % version, text)
            entries.append((PACKAGE + "/" + name, text))
        for name, text in entries:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    os.rename(tmp, dest)
    return dest


class AgentStore:
    """ROOT/agent: the agents, the current one and its fallback."""

    def __init__(self, disk, journal, python=None):
        self.disk = disk
        self.journal = journal
        self.dir = disk.path("agent")
        self.python = python or sys.executable or "python3"

    def current_md5(self):
        return link_md5(os.path.join(self.dir, "current"))

    def fallback_md5(self):
        return link_md5(os.path.join(self.dir, "fallback"))

    def self_test(self, path):
        """None when the agent at path passes --self-test, else what went wrong."""
        try:
            proc = subprocess.run([self.python, "-S", path, "--self-test"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=120, check=False, cwd="/")
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if proc.returncode != 0:
            return "exit %d: %s" % (proc.returncode, proc.stdout.decode("utf-8", "replace").strip()[-400:])
        return None

    def sync(self, running_doc, running_dir):
        """Make agent/current the agent of the running set (self-tested); the old one becomes the fallback.

        Returns None, or why the running set's agent is not used (the current agent then stays)."""
        agent = [p for p in (running_doc or {}).get("programs", []) if p.get("agent")]
        if not agent or agent[0]["md5"] == self.current_md5():
            return None
        prog = agent[0]
        name = "ota-agent-%s.pyz" % prog["md5"]
        dest = os.path.join(self.dir, name)
        self.disk.makedirs(self.dir)
        if not (os.path.isfile(dest) and matches(dest, prog)):
            self.disk.write_atomic(dest, src=os.path.join(running_dir, prog["name"]), mode=0o755)
            if not matches(dest, prog):
                raise OtaError("agent: the copy of %s does not match its hashes" % prog["name"])
        error = None if running_doc.get("agent_self_tested") == prog["md5"] else self.self_test(dest)
        if error:
            message = "agent %s failed its self-test, keeping the current agent: %s" % (prog["md5"], error)
            self.journal.set_state("agent_error", message)
            return message
        current = os.path.join(self.dir, "current")
        if os.path.islink(current):
            self.disk.set_link("fallback", os.readlink(current), base=self.dir)
        self.disk.set_link("current", name, base=self.dir)
        keep = set(os.readlink(os.path.join(self.dir, n)) for n in ("current", "fallback")
                   if os.path.islink(os.path.join(self.dir, n)))
        for entry in sorted(os.listdir(self.dir)):
            if AGENT_RE.match(entry) and entry not in keep:
                self.disk.unlink(os.path.join(self.dir, entry))
        return None
