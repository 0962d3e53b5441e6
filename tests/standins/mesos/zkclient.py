"""A tiny ZooKeeper client over ZooKeeper's wire protocol (jute), standard library only.

Part of the Mesos STAND-IN (tests only). It does what Mesos' leader election needs and nothing more:
one session (kept alive with pings, moved to another server of the ensemble on connection loss, as real
clients do), create (with ephemeral/sequential flags), delete, exists, get_data, set_data, get_children.
No watches: callers poll. Thread safe: one request at a time on the connection.
"""

import random
import socket
import struct
import threading
import time

OPEN_ACL = [(31, "world", "anyone")]
EPHEMERAL = 1
SEQUENTIAL = 2

OP_CREATE, OP_DELETE, OP_EXISTS, OP_GET_DATA, OP_SET_DATA, OP_GET_CHILDREN, OP_PING, OP_CLOSE = 1, 2, 3, 4, 5, 8, 11, -11
XID_WATCH, XID_PING = -1, -2

ERR_NO_NODE = -101
ERR_NODE_EXISTS = -110
ERR_SESSION_EXPIRED = -112


class ZooKeeperError(Exception):
    """A request the server answered with an error code."""

    def __init__(self, code, path=""):
        super().__init__("ZooKeeper error %d on %s" % (code, path or "?"))
        self.code = code


class SessionExpired(ZooKeeperError):
    """The session (and every ephemeral node of it) is gone."""

    def __init__(self):
        super().__init__(ERR_SESSION_EXPIRED)


class ConnectionLost(Exception):
    """No server of the ensemble could be reached in time."""


def parse_zk_url(url):
    """Split zk://[user:pass@]host:port,host:port/path into ([(host, port)], path)."""
    if not url.startswith("zk://"):
        raise ValueError("not a zk:// URL: %r" % url)
    rest = url[len("zk://"):]
    hosts_part, slash, path = rest.partition("/")
    if "@" in hosts_part:
        hosts_part = hosts_part.rsplit("@", 1)[1]
    if not slash or not path or not hosts_part:
        raise ValueError("a zk:// URL needs hosts and a path: %r" % url)
    hosts = []
    for item in hosts_part.split(","):
        host, _sep, port = item.partition(":")
        hosts.append((host, int(port or 2181)))
    return hosts, "/" + path.rstrip("/")


class _Writer:
    def __init__(self):
        self.parts = []

    def int(self, value):
        self.parts.append(struct.pack(">i", value))
        return self

    def long(self, value):
        self.parts.append(struct.pack(">q", value))
        return self

    def bool(self, value):
        self.parts.append(b"\x01" if value else b"\x00")
        return self

    def buffer(self, value):
        if value is None:
            return self.int(-1)
        self.int(len(value))
        self.parts.append(value)
        return self

    def string(self, value):
        return self.buffer(None if value is None else value.encode("utf-8"))

    def frame(self):
        body = b"".join(self.parts)
        return struct.pack(">i", len(body)) + body


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, size):
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def long(self):
        return struct.unpack(">q", self._take(8))[0]

    def buffer(self):
        size = self.int()
        return None if size < 0 else self._take(size)

    def string(self):
        value = self.buffer()
        return None if value is None else value.decode("utf-8")


class ZooKeeperClient:
    """One ZooKeeper session on an ensemble given as a connection string or a zk:// URL."""

    def __init__(self, hosts, session_timeout=10.0, connect_timeout=3.0):
        if isinstance(hosts, str):
            hosts = parse_zk_url(hosts)[0] if hosts.startswith("zk://") else [
                (h.partition(":")[0], int(h.partition(":")[2] or 2181)) for h in hosts.split(",")]
        self.hosts = list(hosts)
        self.session_timeout = session_timeout
        self.connect_timeout = connect_timeout
        self.session_id = 0
        self.password = b"\x00" * 16
        self.last_zxid = 0
        self.sock = None
        self.server = None
        self.xid = 0
        self.lock = threading.RLock()
        self.expired = False
        self.closed = False
        self._pinger = None

    # -- connection ------------------------------------------------------------------------------------
    def start(self):
        """Open the session; raises ConnectionLost when no server answers within the session timeout."""
        with self.lock:
            self._connect()
        self._pinger = threading.Thread(target=self._ping_loop, name="zk-ping", daemon=True)
        self._pinger.start()
        return self

    def _connect(self):
        deadline = time.monotonic() + self.session_timeout
        while True:
            hosts = self.hosts[:]
            random.shuffle(hosts)
            for host, port in hosts:
                try:
                    self._handshake(host, port)
                    return
                except SessionExpired:
                    raise
                except (OSError, struct.error, ConnectionLost):
                    self._drop()
            if time.monotonic() > deadline:
                raise ConnectionLost("no ZooKeeper server of %s answered" % self.hosts)
            time.sleep(0.5)

    def _handshake(self, host, port):
        sock = socket.create_connection((host, port), timeout=self.connect_timeout)
        self.sock = sock
        request = (_Writer().int(0).long(self.last_zxid).int(int(self.session_timeout * 1000))
                   .long(self.session_id).buffer(self.password).bool(False))
        sock.sendall(request.frame())
        reply = _Reader(self._read_frame())
        reply.int()  # protocol version
        timeout_ms = reply.int()
        session_id = reply.long()
        password = reply.buffer()
        if timeout_ms <= 0:
            self.expired = True
            self._drop()
            raise SessionExpired()
        self.session_id, self.password = session_id, password
        self.session_timeout = timeout_ms / 1000.0
        self.server = "%s:%d" % (host, port)
        sock.settimeout(max(self.session_timeout / 3.0, 1.0))

    def _drop(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.server = None

    def _read_exact(self, size):
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                raise ConnectionLost("server closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _read_frame(self):
        size = struct.unpack(">i", self._read_exact(4))[0]
        return self._read_exact(size)

    def _ping_loop(self):
        while not self.closed and not self.expired:
            time.sleep(max(self.session_timeout / 3.0, 0.5))
            try:
                self._call(OP_PING, _Writer(), xid=XID_PING)
            except (ZooKeeperError, ConnectionLost):
                pass

    def close(self):
        """End the session: the server deletes its ephemeral nodes at once."""
        self.closed = True
        with self.lock:
            if self.sock is not None and not self.expired:
                try:
                    self._send(OP_CLOSE, _Writer())
                except (OSError, ConnectionLost, struct.error):
                    pass
            self._drop()

    # -- requests --------------------------------------------------------------------------------------
    def _send(self, op, body, xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        header = _Writer().int(xid).int(op)
        header.parts.extend(body.parts)
        self.sock.sendall(header.frame())
        while True:
            reply = _Reader(self._read_frame())
            reply_xid = reply.int()
            zxid = reply.long()
            err = reply.int()
            if zxid > 0:
                self.last_zxid = zxid
            if reply_xid == xid:
                return err, reply
            # A watch event or a late ping reply: not ours, skip it.

    def _call(self, op, body, path="", xid=None):
        with self.lock:
            if self.expired:
                raise SessionExpired()
            for _attempt in range(3):
                try:
                    if self.sock is None:
                        self._connect()
                    err, reply = self._send(op, body, xid)
                    break
                except (OSError, struct.error, ConnectionLost):
                    self._drop()
            else:
                raise ConnectionLost("request %d on %s failed three times" % (op, path))
            if err == ERR_SESSION_EXPIRED:
                self.expired = True
                raise SessionExpired()
            if err:
                raise ZooKeeperError(err, path)
            return reply

    def create(self, path, data=b"", flags=0):
        """Create a node; returns its path (with the sequence suffix for SEQUENTIAL)."""
        body = _Writer().string(path).buffer(data).int(len(OPEN_ACL))
        for perms, scheme, ident in OPEN_ACL:
            body.int(perms).string(scheme).string(ident)
        body.int(flags)
        return self._call(OP_CREATE, body, path).string()

    def ensure_path(self, path):
        """Create path and its parents as persistent nodes where missing."""
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            try:
                self.create(current)
            except ZooKeeperError as exc:
                if exc.code != ERR_NODE_EXISTS:
                    raise

    def delete(self, path, version=-1):
        self._call(OP_DELETE, _Writer().string(path).int(version), path)

    def exists(self, path):
        try:
            self._call(OP_EXISTS, _Writer().string(path).bool(False), path)
            return True
        except ZooKeeperError as exc:
            if exc.code == ERR_NO_NODE:
                return False
            raise

    def get_data(self, path):
        return self._call(OP_GET_DATA, _Writer().string(path).bool(False), path).buffer() or b""

    def set_data(self, path, data, version=-1):
        self._call(OP_SET_DATA, _Writer().string(path).buffer(data).int(version), path)

    def get_children(self, path):
        reply = self._call(OP_GET_CHILDREN, _Writer().string(path).bool(False), path)
        return [reply.string() for _index in range(reply.int())]


def lowest_child(client, path, prefix):
    """(name, data) of the child of ``path`` whose name contains ``prefix`` and that has the lowest sequence
    number (the ten digits ZooKeeper appends), or (None, None): a leader latch's current leader (Mesos'
    ``json.info_<seq>``, Curator's ``_c_<uuid>-latch-<seq>``)."""
    try:
        children = sorted((c for c in client.get_children(path) if prefix in c), key=lambda name: name[-10:])
    except ZooKeeperError as exc:
        if exc.code == ERR_NO_NODE:
            return None, None
        raise
    for child in children:
        try:
            return child, client.get_data(path + "/" + child)
        except ZooKeeperError as exc:
            if exc.code != ERR_NO_NODE:
                raise
    return None, None
