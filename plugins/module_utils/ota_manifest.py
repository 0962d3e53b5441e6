# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest, ota-agent's stable public format (format 1, see docs/ota.md): validation with errors that
name the field, program URLs, hashing of files, and the publisher's side (make_manifest)."""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import re

from urllib.parse import urljoin, urlparse

from .ota_errors import OtaError

__metaclass__ = type

FORMAT = 1
MANIFEST_MAX_BYTES = 1024 * 1024
CHUNK = 1024 * 1024  # bytes read or written at a time: memory stays bounded whatever the program's size
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
HEX_RE = re.compile(r"^[0-9a-f]+\Z")
MODE_RE = re.compile(r"^0?[0-7]{3}\Z")
RESERVED = ("slot.json",)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_hex(value, length, where):
    if not isinstance(value, str) or len(value) != length or not HEX_RE.match(value.lower()):
        raise OtaError("%s: expected %d hexadecimal digits, got %r" % (where, length, value))
    return value.lower()


def validate_manifest(doc):
    """Return a normalised copy of a parsed manifest, or raise OtaError naming the bad field."""
    if not isinstance(doc, dict):
        raise OtaError("manifest: expected a JSON object, got %s" % type(doc).__name__)
    if doc.get("format") != FORMAT or not _is_int(doc.get("format")):
        raise OtaError("format: expected %d, got %r" % (FORMAT, doc.get("format")))
    release = doc.get("release")
    if not isinstance(release, str) or not release.strip() or len(release) > 128:
        raise OtaError("release: expected a non-empty string of at most 128 characters, got %r" % (release,))
    sequence = doc.get("sequence")
    if not _is_int(sequence) or sequence < 0:
        raise OtaError("sequence: expected a non-negative integer, got %r" % (sequence,))
    programs = doc.get("programs")
    if not isinstance(programs, list) or not programs:
        raise OtaError("programs: expected a non-empty list, got %r" % (programs,))
    out = dict(doc)
    out["programs"] = []
    seen = set()
    agents = 0
    for index, prog in enumerate(programs):
        where = "programs[%d]" % index
        if not isinstance(prog, dict):
            raise OtaError("%s: expected an object" % where)
        name = prog.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name) or name in RESERVED or ".." in name:
            raise OtaError("%s.name: %r is not a safe program name (letters, digits, '.', '_', '+', '-'; "
                           "no '/', no '..', no leading dot, not %s)" % (where, name, ", ".join(RESERVED)))
        where = "programs[%d] (%s)" % (index, name)
        if name in seen:
            raise OtaError("%s.name: duplicate program name" % where)
        seen.add(name)
        version = prog.get("version")
        if not isinstance(version, str) or not version:
            raise OtaError("%s.version: expected a non-empty string, got %r" % (where, version))
        url = prog.get("url")
        if not isinstance(url, str) or not url:
            raise OtaError("%s.url: expected a non-empty string, got %r" % (where, url))
        size = prog.get("size")
        if not _is_int(size) or size < 0:
            raise OtaError("%s.size: expected a non-negative integer, got %r" % (where, size))
        clean = dict(prog)
        clean["md5"] = _check_hex(prog.get("md5"), 32, where + ".md5")
        if prog.get("sha256") is not None:
            clean["sha256"] = _check_hex(prog.get("sha256"), 64, where + ".sha256")
        mode = prog.get("mode", "0755")
        if not isinstance(mode, str) or not MODE_RE.match(mode):
            raise OtaError("%s.mode: expected an octal string such as \"0755\" (no setuid bits), got %r" % (where, mode))
        clean["mode"] = "%04o" % int(mode, 8)
        agent = prog.get("agent", False)
        if not isinstance(agent, bool):
            raise OtaError("%s.agent: expected true or false, got %r" % (where, agent))
        agents += agent
        out["programs"].append(clean)
    if agents > 1:
        raise OtaError("programs: at most one program may have \"agent\": true, found %d" % agents)
    health = doc.get("health", {})
    if health is None:
        health = {}
    if not isinstance(health, dict):
        raise OtaError("health: expected an object, got %r" % (health,))
    command = health.get("command")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise OtaError("health.command: expected a non-empty string, got %r" % (command,))
    timeout = health.get("timeout", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
        raise OtaError("health.timeout: expected seconds between 0 and 86400, got %r" % (timeout,))
    attempts = health.get("attempts", 3)
    if not _is_int(attempts) or not 1 <= attempts <= 100:
        raise OtaError("health.attempts: expected an integer from 1 to 100, got %r" % (attempts,))
    interval = health.get("interval", 2)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 <= interval <= 3600:
        raise OtaError("health.interval: expected seconds between 0 and 3600, got %r" % (interval,))
    out["health"] = {"command": command, "timeout": timeout, "attempts": attempts, "interval": interval}
    return out


def parse_manifest(raw):
    if len(raw) > MANIFEST_MAX_BYTES:
        raise OtaError("manifest: larger than %d bytes" % MANIFEST_MAX_BYTES)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OtaError("manifest: not valid JSON: %s" % exc)
    return validate_manifest(doc)


def program_url(manifest_url, prog):
    url = urljoin(manifest_url, prog["url"])
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise OtaError("programs (%s).url: scheme %r is not http, https or file" % (prog["name"], scheme))
    return url


def same_bytes(a, b):
    """True when two program entries (manifest or slot.json) describe the same bytes."""
    if a["size"] != b["size"] or a["md5"] != b["md5"]:
        return False
    return not (a.get("sha256") and b.get("sha256") and a["sha256"] != b["sha256"])


def program_key(prog):
    return (prog["name"], prog["version"], prog["size"], prog["md5"], prog.get("sha256"), prog["mode"], prog.get("agent", False))


def make_manifest(paths, release, sequence, base_url="", health_command=None, health_timeout=60,
                  agent=None, versions=None, sha256=True):
    """Publisher's side: a manifest for the given files (used by `ota-agent manifest`, the tests, the benchmark)."""
    programs = []
    for path in paths:
        name = os.path.basename(path)
        hashes = hash_file(path, sha256)
        prog = {"name": name, "version": (versions or {}).get(name, release), "url": base_url + name,
                "size": os.path.getsize(path), "md5": hashes["md5"], "mode": "0755"}
        if sha256:
            prog["sha256"] = hashes["sha256"]
        if agent == name:
            prog["agent"] = True
        programs.append(prog)
    doc = {"format": FORMAT, "release": release, "sequence": sequence, "programs": programs}
    if health_command:
        doc["health"] = {"command": health_command, "timeout": health_timeout}
    validate_manifest(doc)
    return doc


def hash_file(path, sha256=True, limit=None):
    md5 = hashlib.md5()
    sha = hashlib.sha256() if sha256 else None
    size = 0
    with open(path, "rb") as handle:
        while True:
            want = CHUNK if limit is None else min(CHUNK, limit - size)
            block = handle.read(want) if want > 0 else b""
            if not block:
                break
            md5.update(block)
            if sha is not None:
                sha.update(block)
            size += len(block)
    out = {"md5": md5.hexdigest(), "size": size}
    if sha is not None:
        out["sha256"] = sha.hexdigest()
    return out
