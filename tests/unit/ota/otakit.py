"""Helpers shared by the ota tests (unit and integration): releases on disk, a loopback firmware server with
injectable faults, and the invariant every operation and every recovery must leave behind."""

import contextlib
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import threading
import time
import zipfile

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils import ota_engine, ota_manifest, ota_selfupdate, ota_serve

REPO = pathlib.Path(__file__).resolve().parents[3]
AGENT = REPO / "scripts" / "ota-agent"


def make_release(base, release, sequence, files, health=None, agent=None, versions=None, sha256=True, **extra):
    """Write files (name -> bytes) and their manifest under base/<release>/; returns the manifest's file URL."""
    folder = pathlib.Path(base) / release
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(str(folder / name))
    doc = ota_manifest.make_manifest(paths, release, sequence, health_command=None, agent=agent, versions=versions,
                                     sha256=sha256)
    if health is not None:
        doc["health"] = health
    doc.update(extra)
    (folder / "manifest.json").write_text(json.dumps(doc, indent=1))
    return "file://%s/manifest.json" % folder


def agent_source(version, patch=None):
    """The agent bundle (`ota-agent bundle`) reporting another version: a new agent for self-update tests.
    patch=(old, new) replaces text in its ota_agent_cli.py (to make a broken agent)."""
    with tempfile.TemporaryDirectory() as work:
        path = ota_selfupdate.bundle(os.path.join(work, "agent.pyz"), version)
        if patch is None:
            return pathlib.Path(path).read_bytes()
        out = os.path.join(work, "patched.pyz")
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith("/ota_agent_cli.py"):
                    assert patch[0].encode() in data
                    data = data.replace(patch[0].encode(), patch[1].encode())
                dst.writestr(info, data)
        return pathlib.Path(out).read_bytes()


def md5(data):
    return hashlib.md5(data).hexdigest()


def releases_of(root):
    """(running release, backup release) as the links say, None where a link is absent."""
    engine = ota_engine.Engine(str(root))
    out = []
    for name in ("running", "backup"):
        doc = engine.slots.read(engine.slots.link_slot(name))
        out.append(doc["release"] if doc else None)
    return tuple(out)


def check_invariant(root, allowed):
    """What every recovery must leave: running a complete, verified set (a pair of allowed), no half state."""
    root = pathlib.Path(root)
    engine = ota_engine.Engine(str(root))
    pair = releases_of(root)
    assert pair in allowed, "running/backup are %r, expected one of %r" % (pair, allowed)
    for name in ("running", "backup"):
        slot = engine.slots.link_slot(name)
        if os.path.lexists(root / name):
            assert slot, "%s is not a link into slots/" % name
            problem = engine.slots.verify(slot, deep=True)
            assert problem is None, "%s: %s" % (name, problem)
    journal = engine.journal.read()
    assert journal is None or journal.get("phase") == "stage", "a journalled operation is left: %r" % journal
    keep = {engine.slots.link_slot(n) for n in ("running", "backup")} | ({journal["slot"]} if journal else set())
    slots = set(os.listdir(root / "slots")) if (root / "slots").is_dir() else set()
    assert slots <= keep, "leaked slots: %r" % sorted(slots - keep)
    leftovers = [n for n in os.listdir(root) if n.endswith((".tmp", ".new"))]
    if (root / "agent").is_dir():
        leftovers += [n for n in os.listdir(root / "agent") if n.endswith((".tmp", ".new"))]
    assert not leftovers, "temporary files left: %r" % leftovers
    running = engine.slots.read(engine.slots.link_slot("running"))
    agent = [p for p in (running or {}).get("programs", []) if p.get("agent")]
    if agent:
        current = root / "agent" / "current"
        assert current.is_file(), "the running set has an agent but agent/current is missing"
        assert md5(current.read_bytes()) == agent[0]["md5"], "agent/current is not the running set's agent"
    for link in ("current", "fallback"):
        path = root / "agent" / link
        if os.path.lexists(path):
            assert path.is_file(), "agent/%s dangles" % link
            name = os.readlink(path)
            assert md5(path.read_bytes()) == name[len("ota-agent-"):-len(".pyz")], "agent/%s is damaged" % link
    return pair


class FaultHandler(ota_serve.RangeHandler):
    """Serves files; /_drop/<n>/path (or a path in server.drop_once, once) sends n bytes of a full-length reply then
    hangs up; /_norange/path ignores Range."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append((self.path, self.headers.get("Range")))
        parts = self.path.split("/")
        drop = getattr(self.server, "drop_once", {}).pop(self.path, None)
        if drop is not None:
            parts = ["", "_drop", str(drop)] + parts[1:]
        if len(parts) > 3 and parts[1] == "_drop":
            path = self.translate_path("/" + "/".join(parts[3:]))
            data = pathlib.Path(path).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:int(parts[2])])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if len(parts) > 2 and parts[1] == "_norange":
            self.path = "/" + "/".join(parts[2:])
            del self.headers["Range"]
        ota_serve.RangeHandler.do_GET(self)

    def copyfile(self, source, outputfile):
        delay = getattr(self.server, "delay", 0)
        if not delay:
            return ota_serve.RangeHandler.copyfile(self, source, outputfile)
        left = getattr(self, "range_left", None)
        while left is None or left > 0:
            block = source.read(65536 if left is None else min(65536, left))
            if not block:
                break
            outputfile.write(block)
            left = None if left is None else left - len(block)
            time.sleep(delay)
        return None


@contextlib.contextmanager
def fault_server(directory):
    """A loopback firmware server for directory (random port); yields it, with .url and .requests."""
    server = ota_serve.make_server(str(directory), 0, "127.0.0.1", FaultHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever)
    thread.daemon = True
    thread.start()
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def small_tmpfs(folder, size):
    """A tmpfs of size (e.g. "2m") mounted on folder (the disk-full tests); skips the test where mounting fails."""
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", str(folder)], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
