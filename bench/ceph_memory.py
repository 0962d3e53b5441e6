# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory (RSS) of the Ceph daemons and of the CephFS clients in the Molecule `ceph` scenario's hosts.

Run after `molecule converge -s ceph` (the hosts must be up):
    python3 bench/ceph_memory.py [ceph-node ceph-docker-a ...]
"""

import subprocess
import sys

DAEMONS = ("ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph-fuse", "python3")


def rss_by_command(container):
    """(command, RSS in MiB) of every process of interest in one container."""
    out = subprocess.run(["docker", "exec", container, "ps", "-eo", "rss=,comm=,args="],
                         check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        rss, comm, args = (line.split(None, 2) + ["", ""])[:3]
        if comm in DAEMONS and (comm != "python3" or "cephfs_volume_plugin" in args):
            found.append((comm if comm != "python3" else "cephfs-volume-plugin", int(rss) / 1024.0))
    return found


def main(argv):
    """Prints one line per daemon and a total per host."""
    containers = argv or ["ceph-node", "ceph-docker-a", "ceph-docker-b", "ceph-grow"]
    for container in containers:
        total = 0.0
        for comm, mib in rss_by_command(container):
            total += mib
            print("%-15s %-22s %8.1f MiB" % (container, comm, mib))
        print("%-15s %-22s %8.1f MiB" % (container, "total", total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
