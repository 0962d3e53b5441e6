"""The Marathon double's leader election and state takeover through ZooKeeper (an in-memory ZooKeeper here).

Three instances share one --zk URL: exactly one leads, the others proxy to it; when the leader stops, the
next one leads with the apps the first one had (the snapshot it wrote to ZooKeeper).
"""

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

import election
import marathon_standin
import zkclient

ZK = "zk://zk1:2181,zk2:2181/marathon"


class FakeZooKeeper:
    """The ZooKeeper data model the election uses: nodes, ephemeral owners, sequence numbers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.nodes = {"/": (b"", None)}
        self.sequence = 0

    def client_class(self):
        server = self

        class Client:
            def __init__(self, hosts, session_timeout=10.0):
                self.hosts, self.session_timeout = hosts, session_timeout
                self.expired = False
                self.server = "fake:2181"

            def start(self):
                return self

            def close(self):
                with server.lock:
                    for path in [p for p, (_d, owner) in server.nodes.items() if owner is self]:
                        del server.nodes[path]

            def create(self, path, data=b"", flags=0):
                with server.lock:
                    if flags & zkclient.SEQUENTIAL:
                        server.sequence += 1
                        path = "%s%010d" % (path, server.sequence)
                    if path in server.nodes:
                        raise zkclient.ZooKeeperError(zkclient.ERR_NODE_EXISTS, path)
                    server.nodes[path] = (data, self if flags & zkclient.EPHEMERAL else None)
                    return path

            def ensure_path(self, path):
                parts = [p for p in path.split("/") if p]
                for index in range(1, len(parts) + 1):
                    with server.lock:
                        server.nodes.setdefault("/" + "/".join(parts[:index]), (b"", None))

            def delete(self, path, version=-1):
                with server.lock:
                    server.nodes.pop(path, None)

            def exists(self, path):
                return path in server.nodes

            def get_data(self, path):
                with server.lock:
                    if path not in server.nodes:
                        raise zkclient.ZooKeeperError(zkclient.ERR_NO_NODE, path)
                    return server.nodes[path][0]

            def set_data(self, path, data, version=-1):
                with server.lock:
                    server.nodes[path] = (data, server.nodes[path][1])

            def get_children(self, path):
                with server.lock:
                    prefix = path.rstrip("/") + "/"
                    return [p[len(prefix):] for p in server.nodes if p.startswith(prefix) and "/" not in p[len(prefix):]]

        return Client


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode("utf-8")
            return resp.status, json.loads(text or "null") if "json" in resp.headers.get("Content-Type", "") else text
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8")


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in %ss" % timeout)


@pytest.fixture(name="instances")
def fixture_instances(monkeypatch):
    monkeypatch.setattr(election.zkclient, "ZooKeeperClient", FakeZooKeeper().client_class())
    started = [marathon_standin.MarathonStandin(port=0, zk=ZK, deploy_seconds=0.05, elect=True).start()
               for _index in range(3)]
    yield started
    for instance in started:
        instance.stop()


def leaders(instances):
    return [i for i in instances if i.is_leader()]


def test_one_leader_the_others_proxy_and_a_stopped_leader_is_replaced(instances):
    wait_for(lambda: len(leaders(instances)) == 1 and all(i.leader_url or i.is_leader() for i in instances))
    first = leaders(instances)[0]
    assert first is instances[0]  # the lowest latch sequence: the first to join
    followers = [i for i in instances if i is not first]
    names = {call(i.url + "/v2/leader")[1]["leader"] for i in instances}
    assert names == {"127.0.0.1:%d" % first.port}

    status, _body = call(followers[0].url + "/v2/apps", "POST", {"id": "/kept", "cmd": "sleep 100", "instances": 2})
    assert status == 201 and "/kept" in first.state.apps and not followers[0].state.apps

    first.stop()
    wait_for(lambda: len(leaders(followers)) == 1)
    second = leaders(followers)[0]
    assert second is followers[0]
    status, body = call(followers[1].url + "/v2/apps/kept")
    assert status == 200 and body["app"]["instances"] == 2, "the new leader took over the apps"
    info = call(second.url + "/v2/info")[1]
    assert info["elected"] is True and info["leader"] == "127.0.0.1:%d" % second.port


def test_abdication_hands_leadership_to_the_next_instance(instances):
    wait_for(lambda: len(leaders(instances)) == 1)
    first = leaders(instances)[0]
    assert call(first.url + "/v2/leader", "DELETE")[0] == 200
    wait_for(lambda: len(leaders(instances)) == 1 and not first.is_leader())
    assert leaders(instances)[0] is instances[1]


def test_without_zookeeper_nobody_leads_and_v2_answers_502(monkeypatch):
    class Unreachable:
        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            raise zkclient.ConnectionLost("no ZooKeeper server answered")

    monkeypatch.setattr(election.zkclient, "ZooKeeperClient", Unreachable)
    lonely = marathon_standin.MarathonStandin(port=0, zk=ZK, elect=True).start()
    try:
        time.sleep(1.5)
        status, body = call(lonely.url + "/v2/apps")
        assert status == 502 and "Could not determine the current leader" in body
        assert call(lonely.url + "/ping")[0] == 200
    finally:
        lonely.stop()
