# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker volume plugin ``cephfs``: Docker volumes as per-user directories of a mounted CephFS tree.

A volume is named ``<user>.<name>`` and lives at ``<root>/<user>/<name>``; ``<root>`` is the host's CephFS
mount of the volumes tree, so every Docker host sees the same volume (scope ``global``). Options on create:
``size`` (``10G``, ``512M``, bytes) sets a CephFS quota; ``purge=true`` lets ``docker volume rm`` delete the
data. Without it a removed volume is moved to ``<root>/.trash/<user>/<name>.<time>`` and kept.

It speaks Docker's volume plugin protocol (JSON over HTTP) on a unix socket, standard library only:
    python3 cephfs_volume_plugin.py --root /mnt/cephfs --socket /run/docker/plugins/cephfs.sock
"""

import argparse
import json
import logging
import os
import re
import shutil
import signal
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

LOG = logging.getLogger("cephfs-volume-plugin")

# A user is a login-like name, a volume name Docker's own rule for names; neither can hold '/' or start
# with '.', so '<user>.<name>' splits at the first dot and never leaves <root>/<user>.
USER_PATTERN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
QUOTA_XATTR = "ceph.quota.max_bytes"
TRASH_DIR = ".trash"
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
KNOWN_OPTIONS = ("size", "purge")


class VolumeError(Exception):
    """An error for Docker: its message is returned as the response's Err."""


def parse_size(text):
    """Bytes from '1073741824', '512M', '10G', '1GiB', '2T' (powers of 1024)."""
    match = re.match(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", str(text), re.IGNORECASE)
    if not match:
        raise VolumeError("option size: %r is not a size (use bytes or a number with K, M, G or T)" % (text,))
    size = int(match.group(1)) * SIZE_UNITS[match.group(2).upper()]
    if size <= 0:
        raise VolumeError("option size: must be more than 0")
    return size


def parse_bool(key, text):
    """True or False from the usual spellings; anything else is an error naming the option."""
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise VolumeError("option %s: %r is not true or false" % (key, text))


def split_name(volume):
    """(user, name) of a Docker volume name '<user>.<name>', refusing anything that is not exactly that."""
    if not isinstance(volume, str) or "." not in volume:
        raise VolumeError("volume name %r: expected <user>.<name>, e.g. alice.data" % (volume,))
    user, name = volume.split(".", 1)
    if not USER_PATTERN.fullmatch(user):
        raise VolumeError("volume name %r: user %r must match %s" % (volume, user, USER_PATTERN.pattern))
    if not NAME_PATTERN.fullmatch(name):
        raise VolumeError("volume name %r: name %r must match %s" % (volume, name, NAME_PATTERN.pattern))
    return user, name


def set_ceph_quota(path, size):
    """Sets (size > 0) or lifts (size 0) the CephFS quota of a directory."""
    os.setxattr(path, QUOTA_XATTR, str(size).encode())


def get_ceph_quota(path):
    """The CephFS quota of a directory in bytes, 0 when it has none."""
    try:
        return int(os.getxattr(path, QUOTA_XATTR).decode() or 0)
    except OSError:
        return 0


class VolumeDriver:
    """The volumes under one root directory. Thread-safe; no state but the files and the local mounts."""

    def __init__(self, root, require_mount=True, set_quota=set_ceph_quota, get_quota=get_ceph_quota):
        self.root = os.path.abspath(root)
        self.require_mount = require_mount
        self.set_quota = set_quota
        self.get_quota = get_quota
        self.lock = threading.Lock()
        # Volume name -> ids of the containers that mounted it on this host (lost on restart: harmless,
        # Unmount of an unknown id succeeds and the data is on CephFS, not in this process).
        self.mounts = {}

    # --- paths -----------------------------------------------------------------------------------------
    def _check_root(self):
        # Never create volumes on the local disk under an unmounted mount point.
        if self.require_mount and not os.path.ismount(self.root):
            raise VolumeError("CephFS is not mounted at %s" % self.root)
        if not os.path.isdir(self.root):
            raise VolumeError("volumes root %s is not a directory" % self.root)

    def path_of(self, volume):
        """The directory of a volume, checked to stay inside <root>/<user> even through symbolic links."""
        user, name = split_name(volume)
        user_dir = os.path.join(self.root, user)
        path = os.path.join(user_dir, name)
        for part in (user_dir, path):
            if os.path.islink(part):
                raise VolumeError("volume %s: %s is a symbolic link" % (volume, part))
        if os.path.dirname(os.path.realpath(path)) != os.path.realpath(user_dir):
            raise VolumeError("volume %s: path leaves the user's directory" % volume)
        return path

    def _meta_path(self, volume):
        user, name = split_name(volume)
        return os.path.join(self.root, user, ".%s.json" % name)

    def _read_meta(self, volume):
        try:
            with open(self._meta_path(volume), encoding="utf-8") as meta:
                return json.load(meta)
        except (OSError, ValueError):
            return {}

    def _describe(self, volume):
        path = self.path_of(volume)
        status = {"user": split_name(volume)[0], "size": self.get_quota(path)}
        status.update(self._read_meta(volume))
        return {"Name": volume, "Mountpoint": path, "Status": status}

    # --- the protocol's operations -----------------------------------------------------------------------
    def create(self, volume, options):
        """Creates the directory (or keeps an existing one and its data) and applies the options."""
        options = options or {}
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise VolumeError("unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(KNOWN_OPTIONS)))
        size = parse_size(options["size"]) if "size" in options else None
        purge = parse_bool("purge", options["purge"]) if "purge" in options else None
        self._check_root()
        path = self.path_of(volume)
        with self.lock:
            os.makedirs(path, mode=0o755, exist_ok=True)
            if size is not None:
                self.set_quota(path, size)
            if purge is not None:
                meta = self._read_meta(volume)
                meta["purge"] = purge
                tmp = self._meta_path(volume) + ".tmp"
                with open(tmp, "w", encoding="utf-8") as out:
                    json.dump(meta, out)
                os.replace(tmp, self._meta_path(volume))
        LOG.info("created %s at %s (size %s, purge %s)", volume, path, size, purge)

    def remove(self, volume):
        """Moves the volume to the trash, or deletes it when it was created with purge=true."""
        self._check_root()
        path = self.path_of(volume)
        with self.lock:
            if self.mounts.get(volume):
                raise VolumeError("volume %s is mounted by container(s) %s on this host" % (volume, ", ".join(sorted(self.mounts[volume]))))
            if not os.path.isdir(path):
                raise VolumeError("no such volume: %s" % volume)
            purge = self._read_meta(volume).get("purge", False)
            if purge:
                shutil.rmtree(path)
                LOG.info("removed %s and deleted its data", volume)
            else:
                user, name = split_name(volume)
                trash = os.path.join(self.root, TRASH_DIR, user)
                os.makedirs(trash, mode=0o700, exist_ok=True)
                target = os.path.join(trash, "%s.%s" % (name, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
                suffix = 0
                while os.path.exists(target + (".%d" % suffix if suffix else "")):
                    suffix += 1
                target += ".%d" % suffix if suffix else ""
                os.rename(path, target)
                LOG.info("removed %s; its data is kept at %s", volume, target)
            try:
                os.unlink(self._meta_path(volume))
            except FileNotFoundError:
                pass

    def mount(self, volume, mount_id):
        """The directory Docker bind-mounts into the container; the volume must exist."""
        self._check_root()
        path = self.path_of(volume)
        if not os.path.isdir(path):
            raise VolumeError("no such volume: %s" % volume)
        with self.lock:
            self.mounts.setdefault(volume, set()).add(mount_id or "")
        return path

    def unmount(self, volume, mount_id):
        """Forgets one container's mount (nothing to undo on disk: the CephFS mount stays)."""
        split_name(volume)
        with self.lock:
            ids = self.mounts.get(volume, set())
            ids.discard(mount_id or "")
            if not ids:
                self.mounts.pop(volume, None)

    def path(self, volume):
        """The volume's directory, or an error when it does not exist."""
        self._check_root()
        path = self.path_of(volume)
        if not os.path.isdir(path):
            raise VolumeError("no such volume: %s" % volume)
        return path

    def get(self, volume):
        """Docker's description of one volume."""
        self.path(volume)
        return self._describe(volume)

    def list(self):
        """Every volume of every user under the root (entries that are not valid names are skipped)."""
        self._check_root()
        volumes = []
        for user in sorted(os.listdir(self.root)):
            user_dir = os.path.join(self.root, user)
            if not USER_PATTERN.fullmatch(user) or os.path.islink(user_dir) or not os.path.isdir(user_dir):
                continue
            for name in sorted(os.listdir(user_dir)):
                full = os.path.join(user_dir, name)
                if NAME_PATTERN.fullmatch(name) and not os.path.islink(full) and os.path.isdir(full):
                    volumes.append({"Name": "%s.%s" % (user, name), "Mountpoint": full})
        return volumes


def dispatch(driver, endpoint, request):
    """The response body (a dict) of one protocol call; errors become {"Err": message}."""
    try:
        if endpoint == "/Plugin.Activate":
            return {"Implements": ["VolumeDriver"]}
        if endpoint == "/VolumeDriver.Capabilities":
            return {"Capabilities": {"Scope": "global"}}
        if endpoint == "/VolumeDriver.List":
            return {"Volumes": driver.list(), "Err": ""}
        name = request.get("Name")
        if endpoint == "/VolumeDriver.Create":
            driver.create(name, request.get("Opts"))
            return {"Err": ""}
        if endpoint == "/VolumeDriver.Remove":
            driver.remove(name)
            return {"Err": ""}
        if endpoint == "/VolumeDriver.Mount":
            return {"Mountpoint": driver.mount(name, request.get("ID")), "Err": ""}
        if endpoint == "/VolumeDriver.Unmount":
            driver.unmount(name, request.get("ID"))
            return {"Err": ""}
        if endpoint == "/VolumeDriver.Path":
            return {"Mountpoint": driver.path(name), "Err": ""}
        if endpoint == "/VolumeDriver.Get":
            return {"Volume": driver.get(name), "Err": ""}
        return {"Err": "unknown endpoint %s" % endpoint}
    except VolumeError as error:
        LOG.warning("%s %s: %s", endpoint, request.get("Name", ""), error)
        return {"Err": str(error)}
    except OSError as error:
        LOG.error("%s %s: %s", endpoint, request.get("Name", ""), error)
        return {"Err": "%s: %s" % (request.get("Name", ""), error)}


class Handler(BaseHTTPRequestHandler):
    """One HTTP request from dockerd: a POST with a JSON body, answered with JSON."""

    protocol_version = "HTTP/1.1"
    driver = None  # set by serve()

    def do_POST(self):  # the name http.server calls
        """Reads the JSON request, dispatches it and writes the JSON answer."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            request = json.loads(raw.decode() or "{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            request = {}
            body = {"Err": "request body is not a JSON object"}
        else:
            body = dispatch(self.driver, self.path, request)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return "docker"  # a unix socket has no peer address

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        LOG.debug(format, *args)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """HTTP on a unix socket, one thread per connection."""

    daemon_threads = True


def make_server(driver, socket_path):
    """The server bound to the socket, made 0600 (only root's dockerd talks to it); a stale socket goes."""
    os.makedirs(os.path.dirname(socket_path), exist_ok=True)
    if os.path.exists(socket_path):
        os.unlink(socket_path)  # left over from a process that was killed
    handler = type("BoundHandler", (Handler,), {"driver": driver})
    old_umask = os.umask(0o177)
    try:
        return UnixHTTPServer(socket_path, handler)
    finally:
        os.umask(old_umask)


def serve(driver, socket_path):
    """Serves until SIGTERM or SIGINT, then removes the socket."""
    server = make_server(driver, socket_path)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info("serving volumes of %s on %s", driver.root, socket_path)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if os.path.exists(socket_path):
            os.unlink(socket_path)


def main(argv=None):
    """Command line: the root, the socket, and whether the root must be a mount point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", required=True, help="the CephFS mount of the volumes tree")
    parser.add_argument("--socket", default="/run/docker/plugins/cephfs.sock", help="unix socket to serve on")
    parser.add_argument("--no-require-mount", dest="require_mount", action="store_false",
                        help="serve even when --root is not a mount point (tests only)")
    parser.add_argument("--debug", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    serve(VolumeDriver(args.root, require_mount=args.require_mount), args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
