# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetching for the over-the-air updater: small documents (manifest, signature), resumable program streams
hashed in the same pass with bounded memory, and Ed25519 signature checks through the openssl command."""

from __future__ import absolute_import, division, print_function

import base64
import os
import queue
import shutil
import subprocess
import tempfile
import threading

from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlparse
from urllib.request import Request, build_opener

from .ota_errors import EXIT_USAGE, NetworkError, OtaError
from .ota_manifest import MANIFEST_MAX_BYTES

__metaclass__ = type

USER_AGENT = "ota-agent"
BUFFERS = 6  # buffers of the download pipeline: its memory is BUFFERS * chunk (6 MiB; peak RSS stays under 32 MiB)
WRITEBACK = 64 * 1024 * 1024  # bytes written between two sync_file_range calls (start write-back early)


def _file_path(url):
    return unquote(urlparse(url).path)


def fetch_bytes(url, timeout=30, limit=MANIFEST_MAX_BYTES, what="manifest"):
    """The whole (small) document at url, or OtaError saying what failed."""
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise OtaError("%s: URL %r is not http, https or file" % (what, url), code=EXIT_USAGE)
    try:
        if scheme == "file":
            with open(_file_path(url), "rb") as handle:
                data = handle.read(limit + 1)
        else:
            resp = build_opener().open(Request(url, headers={"User-Agent": USER_AGENT}), timeout=timeout)
            try:
                data = resp.read(limit + 1)
            finally:
                resp.close()
    except HTTPError as exc:
        raise OtaError("%s: %s returned HTTP %d %s" % (what, url, exc.code, exc.reason))
    except (URLError, OSError, ValueError) as exc:
        raise OtaError("%s: cannot fetch %s: %s" % (what, url, getattr(exc, "reason", exc)))
    if len(data) > limit:
        raise OtaError("%s: %s is larger than %d bytes" % (what, url, limit))
    return data


def open_stream(url, offset, timeout):
    """(readable, start): start is offset when the source resumed there, else 0 (everything is sent again)."""
    if urlparse(url).scheme == "file":
        handle = open(_file_path(url), "rb")  # pylint: disable=consider-using-with
        handle.seek(offset)
        return handle, offset
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = "bytes=%d-" % offset
    try:
        resp = build_opener().open(Request(url, headers=headers), timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and offset:  # the file changed under us: start again
            return open_stream(url, 0, timeout)
        raise
    if offset and resp.status == 206 and (resp.headers.get("Content-Range") or "").startswith("bytes %d-" % offset):
        return resp, offset
    return resp, 0


def open_program(url, offset, timeout, name):
    """open_stream with errors that name the program: HTTP errors fail, network errors can be resumed."""
    try:
        return open_stream(url, offset, timeout)
    except HTTPError as exc:
        raise OtaError("programs (%s): %s returned HTTP %d %s" % (name, url, exc.code, exc.reason))
    except (URLError, OSError, ValueError) as exc:
        raise NetworkError("programs (%s): cannot fetch %s: %s" % (name, url, getattr(exc, "reason", exc)))


class Pump:
    """Copies a stream to a file descriptor, hashing the same bytes, never holding more than BUFFERS chunks.

    on_write(label) is called after every write (a step boundary for the fault-injection tests); without it,
    a large download runs as a three-stage pipeline (Pipeline), so that receiving, hashing and writing overlap."""

    def __init__(self, name, url, size, hashers, chunk, on_write=None):
        self.name, self.url, self.size = name, url, size
        self.hashers = hashers
        self.chunk = chunk
        self.on_write = on_write

    def run(self, stream, fd, total):
        """Copy until the end of the stream; returns the file's total size (total = bytes already there)."""
        if self.on_write is not None or self.size - total < BUFFERS * self.chunk:
            return self._simple(stream, fd, total)
        return Pipeline(self, stream, fd).run(total)

    def read_into(self, stream, view):
        """Fill view from stream (fewer bytes only at its end); network trouble is a NetworkError (resumable)."""
        filled = 0
        try:
            while filled < len(view):
                got = stream.readinto(view[filled:])
                if not got:
                    break
                filled += got
        except (OSError, ValueError, EOFError) as exc:
            raise NetworkError("programs (%s): the download from %s broke off: %s" % (self.name, self.url, exc))
        except Exception as exc:  # http.client.IncompleteRead and friends  # pylint: disable=broad-except
            raise NetworkError("programs (%s): the download from %s broke off: %r" % (self.name, self.url, exc))
        return filled

    def count(self, total, got):
        """The new total after got more bytes; refuses a stream longer than the manifest's size."""
        total += got
        if total > self.size:
            raise OtaError("programs (%s).size: %s sends more than the %d bytes the manifest says"
                           % (self.name, self.url, self.size))
        return total

    def _simple(self, stream, fd, total):
        view = memoryview(bytearray(max(1, min(self.chunk, self.size - total))))
        while True:
            got = self.read_into(stream, view)
            if not got:
                return total
            total = self.count(total, got)
            for hasher in self.hashers:
                hasher.update(view[:got])
            write_all(fd, view[:got])
            if self.on_write is not None:
                self.on_write("write %s" % self.name)


class Pipeline:
    """receive -> hash -> write, one thread each (this one writes), over BUFFERS reused buffers.

    hashlib and the system calls release the GIL on large buffers, so on two cores the md5 (the slowest stage)
    runs beside the network and the disk instead of after them. Write-back is started every WRITEBACK bytes so
    that the fsync before the rename has little left to do."""

    def __init__(self, pump, stream, fd):
        self.pump, self.stream, self.fd = pump, stream, fd
        self.free, self.to_hash, self.to_write = queue.Queue(), queue.Queue(), queue.Queue()
        self.stop = threading.Event()
        self.errors = []

    def run(self, total):
        for dummy in range(BUFFERS):
            self.free.put(bytearray(self.pump.chunk))
        threads = [threading.Thread(target=self._guard, args=(self._receive, total, self.to_hash), name="ota-receive"),
                   threading.Thread(target=self._guard, args=(self._hash, None, self.to_write), name="ota-hash")]
        for thread in threads:
            thread.daemon = True
            thread.start()
        try:
            return self._write(total)
        finally:
            self.stop.set()
            self.free.put(None)
            for thread in threads:
                thread.join(5)

    def _guard(self, stage, arg, out):
        """Run a stage in its thread; an error goes to the writer (through out) with an end marker."""
        try:
            stage(arg)
        except Exception as exc:  # pylint: disable=broad-except
            self.errors.append(exc)
            out.put((None, 0))

    def _receive(self, total):
        while not self.stop.is_set():
            buf = self.free.get()
            if buf is None:
                break
            got = self.pump.read_into(self.stream, memoryview(buf))
            total = self.pump.count(total, got)
            self.to_hash.put((buf, got))
            if not got:
                return
        self.to_hash.put((None, 0))

    def _hash(self, dummy):
        while True:
            buf, got = self.to_hash.get()
            if buf is not None and got:
                view = memoryview(buf)[:got]
                for hasher in self.pump.hashers:
                    hasher.update(view)
            self.to_write.put((buf, got))
            if buf is None or not got:
                return

    def _write(self, total):
        started = total
        while True:
            buf, got = self.to_write.get()
            if buf is None:
                raise self.errors[0] if self.errors else OtaError("programs (%s): download stopped" % self.pump.name)
            if not got:
                return total
            write_all(self.fd, memoryview(buf)[:got])
            self.free.put(buf)
            total += got
            if total - started >= WRITEBACK:
                start_writeback(self.fd, started, total - started)
                started = total


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def start_writeback(fd, offset, length):
    """Ask the kernel to start writing a range back now (sync_file_range), so that the final fsync waits less."""
    func = getattr(os, "sync_file_range", None)
    if func is not None:
        func(fd, offset, length, getattr(os, "SYNC_FILE_RANGE_WRITE", 2))
        return
    if _LIBC.get("sync_file_range") is None:
        try:
            import ctypes  # pylint: disable=import-outside-toplevel
            call = ctypes.CDLL(None, use_errno=True).sync_file_range
            call.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
            _LIBC["sync_file_range"] = call
        except (ImportError, OSError, AttributeError):
            _LIBC["sync_file_range"] = False
    if _LIBC["sync_file_range"]:
        _LIBC["sync_file_range"](fd, offset, length, 2)


_LIBC = {}


def verify_signature(raw, signature, key_files):
    """True when one of the Ed25519 public keys (PEM files) verifies the detached signature (raw or base64)."""
    if len(signature) != 64:
        try:
            signature = base64.b64decode(signature.strip(), validate=True)
        except (ValueError, TypeError):
            return False
    if len(signature) != 64:
        return False
    work = tempfile.mkdtemp(prefix="ota-sig-")
    try:
        msg, sig = os.path.join(work, "manifest"), os.path.join(work, "sig")
        with open(msg, "wb") as handle:
            handle.write(raw)
        with open(sig, "wb") as handle:
            handle.write(signature)
        for key in key_files:
            try:
                proc = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key, "-rawin",
                                       "-in", msg, "-sigfile", sig], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, timeout=30, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise OtaError("signature: cannot run openssl: %s" % exc)
            if proc.returncode == 0 and b"Verified Successfully" in proc.stdout:
                return True
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def list_keys(key_files=None, keys_dir=None):
    """The trusted public keys: the files given plus every *.pem of keys_dir (several keys allow rotation)."""
    keys = list(key_files or [])
    if keys_dir:  # configured means required: an empty or missing directory fails closed, never "unsigned is fine"
        found = sorted(os.path.join(keys_dir, n) for n in os.listdir(keys_dir) if n.endswith(".pem")) \
            if os.path.isdir(keys_dir) else []
        if not found:
            raise OtaError("trusted keys directory %s: no *.pem public key in it" % keys_dir, code=EXIT_USAGE)
        keys += found
    for key in keys:
        if not os.path.isfile(key):
            raise OtaError("trusted key %s: no such file" % key, code=EXIT_USAGE)
    return keys
