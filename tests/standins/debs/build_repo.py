"""Build the STAND-IN .deb packages and a signed apt repository that serves them (tests only).

Run on a Debian host that has dpkg-deb and gpg (the scenario runs it on one of its test hosts):

    python3 build_repo.py --standins tests/standins --out /srv/standin-repo --suite bookworm

It writes .deb files for ``aventer-mesos`` (the Mesos stand-in: mesos-master, mesos-agent, mesos-init-wrapper
and the mesos-master and mesos-slave units, laid out like the real package, with the agent's docker
containerizer) and ``marathon`` (the Marathon double, its Mesos framework side, its leader election and a
marathon unit), an index (``dists/<suite>/main/binary-all/Packages``, ``Release``, ``InRelease``) signed
with a throwaway key generated here and never kept anywhere else, and the public key as ``key.asc`` at the
repository's root. Every package says STAND-IN in its description.
"""

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

MAINTAINER = "shepherd.fleet tests <tests@shepherd.invalid>"

MESOS_MASTER_UNIT = """[Unit]
Description=Mesos master STAND-IN (shepherd tests, not Apache Mesos)
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=-/etc/default/mesos
EnvironmentFile=-/etc/default/mesos-master
ExecStart=/usr/bin/mesos-init-wrapper master
Restart=always
RestartSec=3

[Install]
WantedBy=multi-user.target
"""

MESOS_AGENT_UNIT = """[Unit]
Description=Mesos agent STAND-IN (shepherd tests, not Apache Mesos)
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=-/etc/default/mesos
EnvironmentFile=-/etc/default/mesos-slave
ExecStart=/usr/bin/mesos-init-wrapper slave
KillMode=process
Restart=always
RestartSec=3

[Install]
WantedBy=multi-user.target
"""

MARATHON_UNIT = """[Unit]
Description=Marathon STAND-IN (shepherd tests, not Marathon)
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=-/etc/default/marathon
ExecStart=/usr/share/marathon/bin/marathon
Restart=always
RestartSec=3

[Install]
WantedBy=multi-user.target
"""

# The Marathon double reads MARATHON_* variables as Marathon does; the launcher only runs it.
MARATHON_LAUNCHER = """#!/bin/sh
# STAND-IN launcher (shepherd tests, not Marathon).
exec python3 /usr/share/marathon/marathon_standin.py "$@"
"""


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def build_deb(out_dir, name, version, description, depends, files):
    """files: {path in the package: (content or a source path, mode)}. Returns the .deb's path."""
    root = tempfile.mkdtemp(prefix=name + "-")
    try:
        for target, (source, mode) in files.items():
            dest = os.path.join(root, target.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if source.startswith("/") and os.path.exists(source):
                shutil.copyfile(source, dest)
                os.chmod(dest, mode)
            else:
                write(dest, source, mode)
        write(os.path.join(root, "DEBIAN", "control"), (
            "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: %s\nDepends: %s\nSection: misc\n"
            "Priority: optional\nDescription: STAND-IN %s\n %s\n"
        ) % (name, version, MAINTAINER, depends, description, "This is a shepherd.fleet test stand-in, not the real software."))
        deb = os.path.join(out_dir, "%s_%s_all.deb" % (name, version))
        sh("dpkg-deb", "--root-owner-group", "--build", root, deb, stdout=subprocess.DEVNULL)
        return deb
    finally:
        shutil.rmtree(root)


def digest(path, algorithm):
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        hasher.update(handle.read())
    return hasher.hexdigest()


def write_index(repo, suite, debs):
    """Packages, Packages.gz and Release for one suite with one component (main) and architecture all."""
    binary_dir = os.path.join(repo, "dists", suite, "main", "binary-all")
    os.makedirs(binary_dir, exist_ok=True)
    stanzas = []
    for deb in debs:
        control = subprocess.run(["dpkg-deb", "-f", deb], check=True, capture_output=True, text=True).stdout
        rel = os.path.relpath(deb, repo)
        stanzas.append(control.rstrip("\n") + "\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n" % (
            rel, os.path.getsize(deb), digest(deb, "md5"), digest(deb, "sha256")))
    packages = os.path.join(binary_dir, "Packages")
    write(packages, "\n".join(stanzas))
    with open(packages, "rb") as src, gzip.open(packages + ".gz", "wb") as dst:
        dst.write(src.read())
    lines = ["Origin: shepherd-standin", "Label: STAND-IN packages (shepherd tests)", "Suite: %s" % suite,
             "Codename: %s" % suite, "Architectures: all amd64 arm64", "Components: main",
             "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()), "SHA256:"]
    for name in ("main/binary-all/Packages", "main/binary-all/Packages.gz"):
        path = os.path.join(repo, "dists", suite, name)
        lines.append(" %s %d %s" % (digest(path, "sha256"), os.path.getsize(path), name))
    release = os.path.join(repo, "dists", suite, "Release")
    write(release, "\n".join(lines) + "\n")
    return release


def sign(repo, release):
    """A throwaway key: generated in a temporary GNUPGHOME, used once, its public half kept as key.asc."""
    home = tempfile.mkdtemp(prefix="standin-gpg-")
    try:
        env = dict(os.environ, GNUPGHOME=home)
        sh("gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key",
           "shepherd stand-in repository (throwaway test key)", "ed25519", "sign", "1d", env=env)
        sh("gpg", "--batch", "--yes", "--quiet", "--clearsign", "-o", os.path.join(os.path.dirname(release), "InRelease"),
           release, env=env)
        with open(os.path.join(repo, "key.asc"), "wb") as handle:
            handle.write(subprocess.run(["gpg", "--armor", "--export"], check=True, capture_output=True,
                                        env=env).stdout)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the STAND-IN .deb files and their signed apt repository.")
    parser.add_argument("--standins", required=True, help="the tests/standins directory")
    parser.add_argument("--out", required=True, help="repository directory to (re)create")
    parser.add_argument("--suite", default="bookworm")
    parser.add_argument("--mesos-version", default="1.11.0-0.1.0.standin")
    parser.add_argument("--marathon-version", default="1.10.26-0.1.0.standin")
    args = parser.parse_args(argv)
    mesos_src = os.path.join(args.standins, "mesos")
    marathon_src = os.path.join(args.standins, "marathon", "marathon_standin.py")
    shutil.rmtree(args.out, ignore_errors=True)
    pool = os.path.join(args.out, "pool", "main")
    os.makedirs(pool)
    lib = "/usr/lib/mesos-standin"
    debs = [build_deb(pool, "aventer-mesos", args.mesos_version, "Apache Mesos master and agent",
                      "python3", {
                          lib + "/mesos_standin.py": (os.path.abspath(os.path.join(mesos_src, "mesos_standin.py")), 0o644),
                          lib + "/zkclient.py": (os.path.abspath(os.path.join(mesos_src, "zkclient.py")), 0o644),
                          lib + "/docker_tasks.py": (os.path.abspath(os.path.join(mesos_src, "docker_tasks.py")), 0o644),
                          "/usr/sbin/mesos-master": ("#!/bin/sh\nexec python3 %s/mesos_standin.py master \"$@\"\n" % lib, 0o755),
                          "/usr/sbin/mesos-agent": ("#!/bin/sh\nexec python3 %s/mesos_standin.py agent \"$@\"\n" % lib, 0o755),
                          "/usr/sbin/mesos-slave": ("#!/bin/sh\nexec python3 %s/mesos_standin.py agent \"$@\"\n" % lib, 0o755),
                          "/usr/bin/mesos-init-wrapper": (
                              "#!/bin/sh\nexec python3 %s/mesos_standin.py init-wrapper \"$@\"\n" % lib, 0o755),
                          "/lib/systemd/system/mesos-master.service": (MESOS_MASTER_UNIT, 0o644),
                          "/lib/systemd/system/mesos-slave.service": (MESOS_AGENT_UNIT, 0o644),
                      })]
    if os.path.exists(marathon_src):
        debs.append(build_deb(pool, "marathon", args.marathon_version, "Marathon", "python3", {
            "/usr/share/marathon/marathon_standin.py": (os.path.abspath(marathon_src), 0o644),
            # the framework side (DOCKER apps' tasks on the Mesos stand-in), the leader election and their ZooKeeper client
            "/usr/share/marathon/mesos_scheduler.py": (
                os.path.abspath(os.path.join(os.path.dirname(marathon_src), "mesos_scheduler.py")), 0o644),
            "/usr/share/marathon/election.py": (
                os.path.abspath(os.path.join(os.path.dirname(marathon_src), "election.py")), 0o644),
            "/usr/share/marathon/zkclient.py": (os.path.abspath(os.path.join(mesos_src, "zkclient.py")), 0o644),
            "/usr/share/marathon/bin/marathon": (MARATHON_LAUNCHER, 0o755),
            "/lib/systemd/system/marathon.service": (MARATHON_UNIT, 0o644),
        }))
    release = write_index(args.out, args.suite, debs)
    sign(args.out, release)
    for deb in debs:
        sys.stdout.write("built %s\n" % os.path.relpath(deb, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
