# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/ceph/files/ceph_pools.py against a fake set of monitors that keeps the cluster's rules, pools and
file systems and answers the monitor commands the tool sends (their JSON as Ceph 16 and 18 answer it): what it
changes, in which order, and that check mode only reports."""

import importlib.util
import os

import pytest

TOOL_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "ceph", "files", "ceph_pools.py")
SPEC = importlib.util.spec_from_file_location("ceph_pools", TOOL_PATH)
tool = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(tool)

WANT = {"rule": "shepherd_replicated_host", "size": 3, "min_size": 2, "fs_name": "cephfs", "volumes_dir": "/volumes",
        "timeout": 30, "metadata_pool": {"name": "cephfs_metadata", "pg_num": 16},
        "data_pool": {"name": "cephfs_data", "pg_num": 32}}


class FakeMonitors:
    """The cluster state the commands read and change; `sent` lists the changing commands in order."""

    def __init__(self, pools=(), fs=(), rules=("replicated_rule",), default_rule=0, clean_after=0):
        self.rules = list(rules)
        self.default_rule = default_rule
        self.pools = {name: dict(settings) for name, settings in pools}
        self.fs = list(fs)
        self.sent = []
        self.status_calls = 0
        self.clean_after = clean_after

    def command(self, prefix, **args):
        if prefix == "osd crush rule dump":
            return [{"rule_id": index, "rule_name": name} for index, name in enumerate(self.rules)]
        if prefix == "config get":
            return self.default_rule
        if prefix == "osd pool ls":
            return [{"pool_name": name, **settings} for name, settings in self.pools.items()]
        if prefix == "fs ls":
            return [{"name": name} for name in self.fs]
        if prefix == "status":
            self.status_calls += 1
            clean = self.status_calls > self.clean_after
            return {"pgmap": {"num_pgs": 48, "pgs_by_state": [{"state_name": "active+clean" if clean else "peering", "count": 48}]},
                    "fsmap": {"up": 1}}
        self.sent.append((prefix, args))
        if prefix == "osd crush rule create-replicated":
            self.rules.append(args["name"])
        elif prefix == "config set":
            self.default_rule = int(args["value"])
        elif prefix == "osd pool create":
            self.pools[args["pool"]] = {"size": 1, "min_size": 1, "crush_rule": self.rules.index(args["rule"])}
        elif prefix == "osd pool set":
            value = self.rules.index(args["val"]) if args["var"] == "crush_rule" else int(args["val"])
            self.pools[args["pool"]][args["var"]] = value
        elif prefix == "fs new":
            self.fs.append(args["fs_name"])
        return None


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def volumes_dir(made):
    def make(path, fs_name, check):
        if path in made:
            return []
        if not check:
            made.add(path)
        return ["created %s in CephFS %s" % (path, fs_name)]
    return make


def converge(mons, check=False, made=None, clock=None):
    return tool.filesystem(mons, WANT, check, clock=clock or Clock(), volumes_dir=volumes_dir(made if made is not None else set()))


def test_a_new_cluster_gets_its_rule_as_the_default_then_pools_file_system_and_directory():
    mons = FakeMonitors()
    assert tool.default_rule(mons, {"rule": WANT["rule"], "failure_domain": "host"}, False) == [
        "created CRUSH rule shepherd_replicated_host (failure domain host)", "osd_pool_default_crush_rule 0 -> 1 (shepherd_replicated_host)"]
    made = set()
    changed = converge(mons, made=made)
    assert changed[:2] == ["created pool cephfs_metadata (16 placement groups, rule shepherd_replicated_host)",
                           "created pool cephfs_data (32 placement groups, rule shepherd_replicated_host)"]
    assert changed[-2:] == ["created file system cephfs", "created /volumes in CephFS cephfs"]
    assert mons.fs == ["cephfs"] and made == {"/volumes"}
    assert all(pool == {"size": 3, "min_size": 2, "crush_rule": 1} for pool in mons.pools.values())


def test_a_converged_cluster_is_only_read():
    mons = FakeMonitors(rules=("replicated_rule", WANT["rule"]), default_rule=1, fs=["cephfs"],
                        pools=[(name, {"size": 3, "min_size": 2, "crush_rule": 1}) for name in ("cephfs_metadata", "cephfs_data", ".mgr")])
    assert tool.default_rule(mons, {"rule": WANT["rule"], "failure_domain": "host"}, False) == []
    assert converge(mons, made={"/volumes"}) == []
    assert mons.sent == []


def test_size_is_raised_before_min_size_and_the_rule_moves_first_on_every_pool():
    mons = FakeMonitors(rules=("replicated_rule", "shepherd_replicated_osd", WANT["rule"]), default_rule=2, fs=["cephfs"],
                        pools=[(name, {"size": 1, "min_size": 1, "crush_rule": 1}) for name in ("cephfs_metadata", "cephfs_data", ".mgr")])
    assert converge(mons, made={"/volumes"}) == [
        "pool %s %s" % (pool, change) for pool in ("cephfs_metadata", "cephfs_data", ".mgr")
        for change in ("crush_rule shepherd_replicated_osd -> shepherd_replicated_host", "size 1 -> 3", "min_size 1 -> 2")]
    assert [args["var"] for _prefix, args in mons.sent[:3]] == ["crush_rule", "size", "min_size"]


def test_a_pool_of_one_copy_is_set_with_the_confirmation_ceph_asks_for():
    mons = FakeMonitors(rules=("replicated_rule", WANT["rule"]), default_rule=1, fs=["cephfs"],
                        pools=[("cephfs_metadata", {"size": 1, "min_size": 1, "crush_rule": 1}),
                               ("cephfs_data", {"size": 2, "min_size": 1, "crush_rule": 1})])
    tool.filesystem(mons, dict(WANT, size=1, min_size=1), False, clock=Clock(), volumes_dir=volumes_dir({"/volumes"}))
    assert mons.sent == [("osd pool set", {"pool": "cephfs_data", "var": "size", "val": "1", "yes_i_really_mean_it": True})]


def test_check_mode_reports_every_change_and_sends_none():
    mons = FakeMonitors(pools=[(".mgr", {"size": 1, "min_size": 1, "crush_rule": 0})])
    assert tool.default_rule(mons, {"rule": WANT["rule"], "failure_domain": "host"}, True) == [
        "created CRUSH rule shepherd_replicated_host (failure domain host)",
        "osd_pool_default_crush_rule -> the new rule shepherd_replicated_host"]
    made = set()
    changed = converge(mons, check=True, made=made)
    assert "created pool cephfs_data (32 placement groups, rule shepherd_replicated_host)" in changed
    assert "pool .mgr size 1 -> 3" in changed
    assert changed[-2:] == ["created file system cephfs", "created /volumes in CephFS cephfs"]
    assert mons.sent == [] and made == set() and mons.status_calls == 0


def test_the_run_waits_for_clean_placement_groups_and_gives_up_with_what_it_saw():
    ready = FakeMonitors(rules=("replicated_rule", WANT["rule"]), default_rule=1, fs=["cephfs"], clean_after=3)
    converge(ready, made={"/volumes"})
    assert ready.status_calls == 4
    stuck = FakeMonitors(rules=("replicated_rule", WANT["rule"]), default_rule=1, fs=["cephfs"], clean_after=1000)
    with pytest.raises(tool.CephError, match="not ready after 30 s .*peering"):
        converge(stuck, made={"/volumes"})


def test_a_failed_monitor_command_names_the_command(monkeypatch):
    class Cluster:
        @staticmethod
        def mon_command(command, inbuf):
            return -2, b"", "specified rule nope doesn't exist"

    mons = tool.Monitors.__new__(tool.Monitors)
    mons.cluster = Cluster()
    with pytest.raises(tool.CephError, match=r"ceph osd pool create: specified rule nope doesn't exist \(-2\)"):
        mons.command("osd pool create", pool="x", rule="nope")


def test_usage_errors_exit_2(capsys):
    assert tool.main(["resize"]) == 2
    assert "default-rule" in capsys.readouterr().err
