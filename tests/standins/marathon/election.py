"""Leader election and state of the Marathon double through ZooKeeper (tests only, NOT Marathon).

Part of the Marathon STAND-IN. Several double instances started with the same ``--zk`` URL (or MARATHON_ZK)
elect one leader the way Marathon 1.x does, with a Curator leader latch under ``<zk path>/leader``: each
instance creates an ephemeral sequential node ``_c_<uuid>-latch-<seq>`` holding its ``host:port``; the lowest
sequence leads. The others proxy ``/v2/`` to it (X-Marathon-Leader, 502 while none is known). When the
leader stops, its session ends (at once on a clean stop, after the session timeout on a crash) and the
next instance leads.

Marathon keeps its state in ZooKeeper; the double keeps a JSON snapshot of its apps, versions, groups and
tasks (not its running deployments) in ``<zk path>/state/standin-snapshot``, written by the leader after each
change, read by an instance when it becomes the leader. Stand-in-only layout, labelled as such.
"""

import json
import logging
import os
import sys
import threading
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in (HERE, os.path.join(HERE, "..", "mesos")):  # in the repository, zkclient is with the Mesos stand-in
    if _folder not in sys.path:
        sys.path.insert(0, _folder)
import zkclient  # noqa: E402  pylint: disable=wrong-import-position

LOG = logging.getLogger("marathon_standin")
LATCH = "-latch-"
SNAPSHOT_FIELDS = ("apps", "versions", "groups", "tasks", "ports")
MAX_VERSIONS = 50  # Marathon's --zk_max_versions


def snapshot_of(state):
    """The persistent part of a State as JSON bytes (call with state.lock held)."""
    versions = {app_id: dict(sorted(stored.items())[-MAX_VERSIONS:]) for app_id, stored in state.versions.items()}
    data = {"apps": state.apps, "versions": versions, "groups": state.groups, "tasks": state.tasks,
            "ports": sorted(state.ports)}
    return json.dumps(data, sort_keys=True).encode("utf-8")


def restore(state, raw):
    """Load a snapshot into a State (call with state.lock held)."""
    data = json.loads(raw.decode("utf-8"))
    state.apps, state.versions, state.groups = data["apps"], data["versions"], data["groups"]
    state.tasks, state.ports = data["tasks"], set(data["ports"])
    state.deployments = {}


class Election:
    """Keeps one double instance in the leader latch and its ``leader_url``/``no_leader`` up to date."""

    def __init__(self, standin, zk_url, session_timeout=10.0):
        self.standin = standin
        self.hosts, base = zkclient.parse_zk_url(zk_url)
        self.latch_path = base + "/leader"
        self.snapshot_path = base + "/state/standin-snapshot"
        self.session_timeout = session_timeout
        self.hostport = "%s:%d" % (standin.hostname, standin.port)
        self.client = None
        self.node = None
        self.leading = False
        self.leader = None  # host:port of the current leader, None while unknown
        self.last_saved = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def start(self):
        self.standin.no_leader = True  # nobody is known to lead until the latch says so
        threading.Thread(target=self._loop, name="election", daemon=True).start()
        return self

    def stop(self):
        """Leave the latch at once (a clean stop: the next instance leads without waiting for a timeout)."""
        self.stopping.set()
        if self.client is not None:
            self.client.close()

    def abdicate(self):
        """DELETE /v2/leader: give up the latch and queue up again behind the others."""
        with self.lock:
            if self.client is not None and self.node:
                try:
                    self.client.delete(self.node)
                except (zkclient.ZooKeeperError, zkclient.ConnectionLost):
                    pass
                self.node = None
        self._follow(None)

    def _join(self):
        if self.client is None or self.client.expired:
            self.client = zkclient.ZooKeeperClient(self.hosts, session_timeout=self.session_timeout).start()
            self.node = None
        if self.node is None:
            self.client.ensure_path(self.latch_path)
            self.node = self.client.create("%s/_c_%s%s" % (self.latch_path, uuid.uuid4(), LATCH),
                                           self.hostport.encode("utf-8"), zkclient.EPHEMERAL | zkclient.SEQUENTIAL)
            LOG.info("joined the leader latch as %s via %s", self.node, self.client.server)

    def _loop(self):
        while not self.stopping.is_set():
            try:
                with self.lock:
                    self._join()
                    node, data = zkclient.lowest_child(self.client, self.latch_path, LATCH)
                self._follow(data.decode("utf-8") if node and data else None,
                             bool(node) and self.latch_path + "/" + node == self.node)
                if self.leading:
                    self.save()
            except zkclient.SessionExpired:
                LOG.info("ZooKeeper session expired: joining the latch again")
                self._follow(None)
            except (zkclient.ZooKeeperError, zkclient.ConnectionLost, OSError) as exc:
                LOG.info("ZooKeeper not reachable (%s)", exc)
                self._follow(None)
            self.stopping.wait(1)

    def _follow(self, leader, me=False):
        """Apply what the latch says: lead, proxy to another leader, or answer 502 while none is known."""
        was_leading = self.leading
        if me and not was_leading:
            self._load()
            LOG.info("elected as the leading Marathon (stand-in)")
        elif was_leading and not me:
            LOG.info("lost leadership")
        elif leader != self.leader and not me:
            LOG.info("the leading Marathon is %s", leader or "unknown")
        self.leading, self.leader = me, leader
        self.standin.leader_url = None if me or not leader else "%s://%s" % (self.standin.scheme, leader)
        self.standin.no_leader = not me and not leader

    def _load(self):
        try:
            raw = self.client.get_data(self.snapshot_path)
        except zkclient.ZooKeeperError as exc:
            if exc.code != zkclient.ERR_NO_NODE:
                raise
            return
        state = self.standin.state
        with state.lock:
            restore(state, raw)
            self.last_saved = raw
        LOG.info("took over the state: %d apps", len(state.apps))

    def save(self):
        """Write the snapshot when it changed (only the leader calls this)."""
        state = self.standin.state
        with state.lock:
            raw = snapshot_of(state)
        if raw == self.last_saved:
            return
        with self.lock:
            if not self.client.exists(self.snapshot_path):
                self.client.ensure_path(self.snapshot_path)
            self.client.set_data(self.snapshot_path, raw)
        self.last_saved = raw
