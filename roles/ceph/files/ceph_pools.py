# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ceph role's cluster-wide settings, read first and changed only where they differ (run on the first monitor):

    python3 ceph_pools.py default-rule '{"rule": NAME, "failure_domain": "host"}'
        the replicated CRUSH rule of the failure domain exists and is the default rule of new pools;
    python3 ceph_pools.py filesystem '{"rule": ..., "size": 3, "min_size": 2, "fs_name": ..., "metadata_pool":
        {"name": ..., "pg_num": 16}, "data_pool": {...}, "volumes_dir": "/volumes", "timeout": 300}'
        the file system's pools exist, every pool has the size, min_size and rule given, the file system exists,
        then waits until every placement group is active+clean and an MDS is active, and makes the volumes
        directory in CephFS.

Prints one JSON object, {"changed": [what it changed, one sentence each]}. With "check": true in the settings it
changes nothing, does not wait, and lists what it would change (Ansible's check mode). Talks to the monitors
through librados (python3-rados, which the ceph CLI uses too): one connection for every read and change instead
of one `ceph` process each.
"""

import json
import sys
import time

CONF = "/etc/ceph/ceph.conf"


class CephError(Exception):
    """A monitor command failed."""


class Monitors:
    """Monitor commands over one librados connection (as client.admin)."""

    def __init__(self, timeout=20):
        import rados  # pylint: disable=import-outside-toplevel

        self.cluster = rados.Rados(conffile=CONF)
        self.cluster.connect(timeout=timeout)

    def command(self, prefix, **args):
        """The JSON answer of a monitor command (None when it answers nothing); CephError when it fails."""
        args = dict(args, prefix=prefix, format="json")
        ret, out, err = self.cluster.mon_command(json.dumps(args), b"")
        if ret != 0:
            raise CephError("ceph %s: %s (%d)" % (prefix, err or "failed", ret))
        return json.loads(out) if out.strip() else None

    def close(self):
        self.cluster.shutdown()


def rule_ids(mons):
    return {rule["rule_name"]: rule["rule_id"] for rule in mons.command("osd crush rule dump")}


def default_rule(mons, want, check):
    """The rule want["rule"] (replicated, over want["failure_domain"]) exists and is the default of new pools."""
    changed = []
    rules = rule_ids(mons)
    name = want["rule"]
    if name not in rules:
        changed.append("created CRUSH rule %s (failure domain %s)" % (name, want["failure_domain"]))
        if check:
            return changed + ["osd_pool_default_crush_rule -> the new rule %s" % name]
        mons.command("osd crush rule create-replicated", name=name, root="default", type=want["failure_domain"])
        rules = rule_ids(mons)
    current = str(mons.command("config get", who="mon", key="osd_pool_default_crush_rule"))
    if current != str(rules[name]):
        changed.append("osd_pool_default_crush_rule %s -> %s (%s)" % (current, rules[name], name))
        if not check:
            mons.command("config set", who="global", name="osd_pool_default_crush_rule", value=str(rules[name]))
    return changed


def replication_changes(pools, rule_names, want):
    """(pool, setting, have, want) for every pool setting that differs; rule first, and size before min_size
    (min_size may not exceed size)."""
    changes = []
    for pool in pools:
        have = {"crush_rule": rule_names.get(pool["crush_rule"]), "size": pool["size"], "min_size": pool["min_size"]}
        for key in ("crush_rule", "size", "min_size"):
            if have[key] != want[key]:
                changes.append((pool["pool_name"], key, have[key], want[key]))
    return changes


def ready(status):
    """Every placement group active+clean (HEALTH_OK alone can hide peering or recovery) and an MDS active."""
    pgmap = status.get("pgmap", {})
    clean = sum(state["count"] for state in pgmap.get("pgs_by_state", []) if state["state_name"] == "active+clean")
    return pgmap.get("num_pgs", 0) > 0 and clean == pgmap["num_pgs"] and status.get("fsmap", {}).get("up", 0) >= 1


def wait_until_ready(mons, timeout, clock=time):
    deadline = clock.monotonic() + timeout
    while True:
        status = mons.command("status")
        if ready(status):
            return
        if clock.monotonic() >= deadline:
            raise CephError("the cluster is not ready after %d s (placement groups %s, MDS up %s): see ceph -s"
                            % (timeout, status.get("pgmap", {}).get("pgs_by_state"), status.get("fsmap", {}).get("up")))
        clock.sleep(3)


def make_volumes_dir(path, fs_name, check):
    """The clients' directory, through libcephfs with the admin key (the clients' key may not reach the root)."""
    import cephfs  # pylint: disable=import-outside-toplevel

    fs = cephfs.LibCephFS(conffile=CONF)
    fs.mount(filesystem_name=fs_name.encode())
    try:
        fs.stat(path.encode())
        return []
    except cephfs.ObjectNotFound:
        if not check:
            fs.mkdirs(path.encode(), 0o755)
        return ["created %s in CephFS %s" % (path, fs_name)]
    finally:
        # unmount first: shutdown() alone waits about a second for the session to close.
        fs.unmount()
        fs.shutdown()


def filesystem(mons, want, check, clock=time, volumes_dir=make_volumes_dir):
    """Pools, replication, the file system, the wait and the volumes directory (see the module docstring)."""
    changed = []
    pools = mons.command("osd pool ls", detail="detail")
    names = {pool["pool_name"] for pool in pools}
    missing = [pool for pool in (want["metadata_pool"], want["data_pool"]) if pool["name"] not in names]
    for pool in missing:
        changed.append("created pool %s (%d placement groups, rule %s)" % (pool["name"], pool["pg_num"], want["rule"]))
        if not check:
            mons.command("osd pool create", pool=pool["name"], pg_num=pool["pg_num"], pgp_num=pool["pg_num"],
                         pool_type="replicated", rule=want["rule"])
    if missing and not check:
        pools = mons.command("osd pool ls", detail="detail")  # the new pools, with the size Ceph gave them
    rule_names = {rule_id: name for name, rule_id in rule_ids(mons).items()}
    wanted = {"crush_rule": want["rule"], "size": want["size"], "min_size": want["min_size"]}
    for pool, key, have, value in replication_changes(pools, rule_names, wanted):
        changed.append("pool %s %s %s -> %s" % (pool, key, have, value))
        if not check:
            args = {"yes_i_really_mean_it": True} if key == "size" and value == 1 else {}
            mons.command("osd pool set", pool=pool, var=key, val=str(value), **args)
    if want["fs_name"] not in {fs["name"] for fs in mons.command("fs ls")}:
        changed.append("created file system %s" % want["fs_name"])
        if check:
            return changed + ["created %s in CephFS %s" % (want["volumes_dir"], want["fs_name"])]
        mons.command("fs new", fs_name=want["fs_name"], metadata=want["metadata_pool"]["name"], data=want["data_pool"]["name"])
    if not check:
        wait_until_ready(mons, want["timeout"], clock)
    return changed + volumes_dir(want["volumes_dir"], want["fs_name"], check)


ACTIONS = {"default-rule": default_rule, "filesystem": filesystem}


def main(args):
    if len(args) != 2 or args[0] not in ACTIONS:
        sys.stderr.write(__doc__)
        return 2
    want = json.loads(args[1])
    try:
        mons = Monitors()
    except Exception as error:  # rados.Error and its kin: no monitor answers, no keyring
        sys.stderr.write("ceph_pools.py %s: cannot reach the monitors: %s\n" % (args[0], error))
        return 1
    try:
        changed = ACTIONS[args[0]](mons, want, bool(want.get("check")))
    except CephError as error:
        sys.stderr.write("ceph_pools.py %s: %s\n" % (args[0], error))
        return 1
    finally:
        mons.close()
    print(json.dumps({"changed": changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
