"""Root filesystem of a STAND-IN container image (shepherd tests only; these images never ship).

Writes, as a tar stream on stdout, the smallest root filesystem that runs a stand-in under tests/standins/ with
the Python of the machine it runs on: the interpreter, its standard library (without tests, IDLE, tkinter and
the like), the shared libraries the interpreter, its extension modules and any --binary need (found with ldd),
/etc/passwd, /etc/group and /etc/nsswitch.conf, and the files given with --add. Nothing is downloaded, so
it builds where no registry can be reached:

    python3 standin_rootfs.py --add mesos_standin.py:/opt/standin/mesos/mesos_standin.py \\
        --binary /usr/bin/docker | docker import -c 'ENTRYPOINT [...]' - avhost/mesos-agent:1.11.0

Runs on Debian 12 and 13 (merged /usr: /bin, /lib and /lib64 become the same links in the image).
"""

import argparse
import os
import re
import subprocess
import sys
import tarfile

# Parts of the standard library no stand-in imports.
SKIPPED_STDLIB = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                  "site-packages", "dist-packages"}
ETC_FILES = ["/etc/passwd", "/etc/group", "/etc/nsswitch.conf"]
TOP_LINKS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
EMPTY_DIRS = {"/tmp": 0o1777, "/var/tmp": 0o1777, "/root": 0o700, "/proc": 0o755, "/sys": 0o755, "/dev": 0o755,
              "/run": 0o755, "/etc": 0o755}
LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def shared_libraries(files):
    """The absolute paths ldd names for these executables and libraries (the dynamic loader included)."""
    found = set()
    for path in files:
        proc = subprocess.run(["ldd", path], capture_output=True, text=True, check=False)
        found.update(LDD_PATH.findall(proc.stdout))
    return sorted(found)


def canonical(path):
    """Where a file really lives: its directory resolved (merged /usr), its own name kept."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


class RootFs:
    """A tar stream of a root filesystem, each directory written before what it holds."""

    def __init__(self, stream):
        self.tar = tarfile.open(fileobj=stream, mode="w|", format=tarfile.GNU_FORMAT)
        self.names = set()

    def _info(self, name, kind, mode):
        info = tarfile.TarInfo(name.lstrip("/"))
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, 0, 0, 0
        return info

    def directory(self, path, mode=0o755):
        if path in ("/", "") or path in self.names:
            return
        self.directory(os.path.dirname(path))
        self.names.add(path)
        self.tar.addfile(self._info(path, tarfile.DIRTYPE, mode))

    def symlink(self, path, target):
        if path in self.names:
            return
        self.directory(os.path.dirname(path))
        self.names.add(path)
        info = self._info(path, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.tar.addfile(info)

    def file(self, source, path, mode=None):
        """The content of source (links followed) as the regular file path."""
        if path in self.names:
            return
        self.directory(os.path.dirname(path))
        self.names.add(path)
        stat = os.stat(source)
        info = self._info(path, tarfile.REGTYPE, mode if mode is not None else stat.st_mode & 0o7777)
        info.size = stat.st_size
        with open(source, "rb") as handle:
            self.tar.addfile(info, handle)

    def host_file(self, path):
        """A file of this machine (links followed) at its canonical place."""
        self.file(path, canonical(path))

    def tree(self, top):
        for folder, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_STDLIB and not d.startswith("config-"))
            self.directory(folder)
            for name in sorted(files):
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    self.symlink(path, os.readlink(path))
                elif os.path.isfile(path):
                    self.file(path, path)

    def close(self):
        self.tar.close()


def build(stream, adds, binaries, python="/usr/bin/python3"):
    rootfs = RootFs(stream)
    for link in TOP_LINKS:
        if os.path.islink(link):
            rootfs.symlink(link, os.readlink(link))
    for path, mode in sorted(EMPTY_DIRS.items()):
        rootfs.directory(path, mode)
    interpreter = os.path.realpath(python)  # /usr/bin/python3.11: its standard library is /usr/lib/python3.11
    version = os.path.basename(interpreter)
    stdlib = os.path.realpath(os.path.join(os.path.dirname(os.path.dirname(interpreter)), "lib", version))
    rootfs.file(interpreter, interpreter)
    rootfs.symlink("/usr/bin/python3", version)
    rootfs.tree(stdlib)
    dynload = os.path.join(stdlib, "lib-dynload")
    extensions = [os.path.join(dynload, name) for name in sorted(os.listdir(dynload)) if name.endswith(".so")]
    for binary in binaries:
        rootfs.file(binary, canonical(binary))
    for library in shared_libraries([interpreter] + extensions + list(binaries)):
        rootfs.host_file(library)
    for path in ETC_FILES:
        if os.path.exists(path):
            rootfs.file(path, path)
    for source, dest, mode in adds:
        rootfs.file(source, dest, mode)
    rootfs.close()


def parse_add(text):
    """SOURCE:DEST or SOURCE:DEST:MODE (octal)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        raise argparse.ArgumentTypeError("expected SOURCE:/DEST[:MODE], got %r" % text)
    return parts[0], parts[1], int(parts[2], 8) if len(parts) == 3 else 0o644


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--add", type=parse_add, action="append", default=[], metavar="SOURCE:/DEST[:MODE]",
                        help="a file to put into the image")
    parser.add_argument("--binary", action="append", default=[],
                        help="an executable of this machine to put into the image with its libraries")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the interpreter to put into the image as /usr/bin/python3, with its standard library")
    args = parser.parse_args(argv)
    build(sys.stdout.buffer, args.add, args.binary, args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
