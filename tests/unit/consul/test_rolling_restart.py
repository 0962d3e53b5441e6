# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The consul role's restart helper (rendered from its template) against a fake agent API: it refuses to
take down a server the cluster cannot afford to lose, and returns only once every server is healthy and
voting again."""

import importlib.util
import os
import sys

import jinja2
import pytest

TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "consul", "templates", "consul-rolling-restart.j2")


@pytest.fixture(name="helper")
def fixture_helper(tmp_path, monkeypatch):
    with open(TEMPLATE, encoding="utf-8") as handle:
        source = jinja2.Environment(trim_blocks=True).from_string(handle.read()).render(
            __consul_python="/usr/bin/python3", ansible_managed="managed")
    assert source.startswith("#!/usr/bin/python3\n")
    path = tmp_path / "consul_rolling_restart.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("consul_rolling_restart", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.time, "sleep", lambda seconds: None)
    return module


class FakeCluster:
    """Answers the helper's API calls; `calls` records what it asked and `restarts` the systemctl runs."""

    def __init__(self, tolerance=1, after_restart=None):
        self.servers = [{"Name": n, "Healthy": True, "Voter": True} for n in ("s1", "s2", "s3")]
        self.tolerance = tolerance
        self.after_restart = after_restart or []
        self.calls = []
        self.restarts = 0
        self.left = False

    def api(self, path, method="GET", timeout=5):  # pylint: disable=unused-argument
        self.calls.append((method, path))
        if (method, path) == ("PUT", "/v1/agent/leave"):
            self.left = True
            return True
        if path == "/v1/status/leader":
            return "10.0.0.1:8300"
        if path == "/v1/operator/autopilot/health":
            servers = self.servers
            if self.restarts and self.after_restart:
                servers = self.after_restart.pop(0)
            return {"Healthy": all(s["Healthy"] for s in servers), "FailureTolerance": self.tolerance, "Servers": servers}
        raise AssertionError("unexpected call %s" % path)

    def run(self, command, check):
        if command == ["systemctl", "is-active", "--quiet", "consul.service"]:
            # The agent has stopped once it left.
            return FakeProcess(0 if not self.left else 3)
        assert command == ["systemctl", "restart", "consul.service"] and check
        self.restarts += 1
        self.calls.append(("RUN", "systemctl restart"))
        return FakeProcess(0)


class FakeProcess:  # pylint: disable=too-few-public-methods
    def __init__(self, returncode):
        self.returncode = returncode


def run_helper(helper, monkeypatch, cluster, server=True, argv=None):
    monkeypatch.setattr(helper, "api", cluster.api)
    monkeypatch.setattr(helper, "is_server", lambda: server)
    monkeypatch.setattr(helper.subprocess, "run", cluster.run)
    monkeypatch.setattr(sys, "argv", ["consul-rolling-restart"] + (argv or ["--timeout", "5"]))
    return helper.main()


def test_a_server_is_not_restarted_when_the_cluster_cannot_afford_it(helper, monkeypatch):
    cluster = FakeCluster(tolerance=0)
    assert run_helper(helper, monkeypatch, cluster) == 2
    assert cluster.restarts == 0


def test_a_server_leaves_gracefully_before_the_restart(helper, monkeypatch):
    cluster = FakeCluster()
    assert run_helper(helper, monkeypatch, cluster) == 0
    assert cluster.calls.index(("PUT", "/v1/agent/leave")) < cluster.calls.index(("RUN", "systemctl restart"))


def test_a_server_that_cannot_leave_is_restarted_directly(helper, monkeypatch):
    cluster = FakeCluster()
    answers = cluster.api

    def refuse_leave(path, method="GET", timeout=5):
        return None if method == "PUT" else answers(path, method, timeout)

    monkeypatch.setattr(helper, "api", refuse_leave)
    monkeypatch.setattr(helper, "is_server", lambda: True)
    monkeypatch.setattr(helper.subprocess, "run", cluster.run)
    monkeypatch.setattr(sys, "argv", ["consul-rolling-restart", "--timeout", "5"])
    assert helper.main() == 0
    assert cluster.restarts == 1


def test_force_restarts_anyway(helper, monkeypatch):
    cluster = FakeCluster(tolerance=0)
    assert run_helper(helper, monkeypatch, cluster, argv=["--force", "--timeout", "5"]) == 0
    assert cluster.restarts == 1


def test_a_server_waits_until_every_server_votes_again(helper, monkeypatch):
    rejoining = [{"Name": "s1", "Healthy": True, "Voter": False}, {"Name": "s2", "Healthy": True, "Voter": True},
                 {"Name": "s3", "Healthy": True, "Voter": True}]
    missing = rejoining[1:]
    cluster = FakeCluster(after_restart=[missing, rejoining, rejoining])
    assert run_helper(helper, monkeypatch, cluster) == 0
    assert cluster.restarts == 1
    # Three unhealthy answers (one server missing, then still a non-voter twice) before the healthy one.
    assert cluster.calls.count(("GET", "/v1/operator/autopilot/health")) == 1 + 4


def test_a_client_restarts_without_asking_autopilot(helper, monkeypatch):
    cluster = FakeCluster()
    assert run_helper(helper, monkeypatch, cluster, server=False) == 0
    assert cluster.restarts == 1
    # Clients leave on SIGTERM by themselves (leave_on_terminate).
    assert [call for call in cluster.calls if call[1] != "/v1/status/leader"] == [("RUN", "systemctl restart")]


def test_timeout_when_the_cluster_does_not_recover(helper, monkeypatch):
    unhealthy = [{"Name": "s1", "Healthy": False, "Voter": True}]
    cluster = FakeCluster(after_restart=[unhealthy] * 100000)
    clock = iter(range(0, 1000000, 10))
    monkeypatch.setattr(helper.time, "monotonic", lambda: next(clock))
    assert run_helper(helper, monkeypatch, cluster, argv=["--timeout", "30"]) == 1
    assert cluster.restarts == 1
