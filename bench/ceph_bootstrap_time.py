# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time from a bare host to a mountable CephFS, read from the Molecule `ceph` scenario's hosts after a
converge from scratch (`molecule destroy -s ceph; molecule converge -s ceph`):

    python3 bench/ceph_bootstrap_time.py [ceph-node] [ceph-docker-a]

Prints the moments (container start, first Ceph package unpacked, monitor active, manager, OSD, MDS
active, CephFS mounted on the client) as seconds after the Ceph node's container started.
"""

import datetime
import json
import subprocess
import sys


def run(*args):
    """stdout of a command."""
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def started_at(container):
    """When the container started (UTC)."""
    text = json.loads(run("docker", "inspect", container))[0]["State"]["StartedAt"]
    return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def unit_active_at(container, unit):
    """When a systemd unit of the container last became active (UTC), or None."""
    value = run("docker", "exec", container, "systemctl", "show", "-p", "ActiveEnterTimestamp", "--timestamp=utc", unit)
    text = value.strip().split("=", 1)[1]
    if not text:
        return None
    return datetime.datetime.strptime(text, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=datetime.timezone.utc)


def first_ceph_install(container):
    """When dpkg began to install the first Ceph package (UTC), from /var/log/dpkg.log (host time is UTC)."""
    for line in run("docker", "exec", container, "cat", "/var/log/dpkg.log").splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] == "install" and parts[3].startswith("ceph"):
            return datetime.datetime.strptime(" ".join(parts[:2]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return None


def main(argv):
    """Prints each moment in seconds after the node's start."""
    node = argv[0] if argv else "ceph-node"
    client = argv[1] if len(argv) > 1 else "ceph-docker-a"
    hostname = run("docker", "exec", node, "hostname", "-s").strip()
    zero = started_at(node)
    moments = [
        ("container started", zero),
        ("first ceph package install", first_ceph_install(node)),
        ("ceph-mon active", unit_active_at(node, "ceph-mon@%s" % hostname)),
        ("ceph-mgr active", unit_active_at(node, "ceph-mgr@%s" % hostname)),
        ("ceph-osd@0 active", unit_active_at(node, "ceph-osd@0")),
        ("ceph-mds active", unit_active_at(node, "ceph-mds@%s" % hostname)),
        ("CephFS mounted on %s" % client, unit_active_at(client, "mnt-cephfs.mount")),
    ]
    for label, moment in moments:
        print("%-34s %s" % (label, "%6.0f s" % (moment - zero).total_seconds() if moment else "     -"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
