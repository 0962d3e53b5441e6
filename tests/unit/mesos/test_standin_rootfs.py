"""The root filesystem of the STAND-IN images (tests/standins/images/standin_rootfs.py)."""

import argparse
import io
import os
import tarfile

import pytest

import standin_rootfs

PYTHON = "/usr/bin/python3"
pytestmark = pytest.mark.skipif(not os.path.exists(PYTHON) or not os.path.exists("/usr/bin/ldd"),
                                reason="needs the system's Python and ldd")


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    standin = tmp_path_factory.mktemp("standin") / "mesos_standin.py"
    standin.write_text("print('STAND-IN')\n")
    stream = io.BytesIO()
    standin_rootfs.build(stream, [(str(standin), "/usr/lib/mesos-standin/mesos_standin.py", 0o644)], [], PYTHON)
    stream.seek(0)
    with tarfile.open(fileobj=stream) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_interpreter_and_its_standard_library(members):
    version = os.path.basename(os.path.realpath(PYTHON))
    assert members["usr/bin/python3"].issym() and members["usr/bin/python3"].linkname == version
    assert members["usr/bin/" + version].isfile() and members["usr/bin/" + version].mode & 0o111
    assert members["usr/lib/%s/json/__init__.py" % version].isfile()
    assert members["usr/lib/%s/http/server.py" % version].isfile()
    # what no stand-in imports stays out
    assert not [name for name in members if name.startswith("usr/lib/%s/test/" % version)]
    assert not [name for name in members if "/idlelib/" in name or "/tkinter/" in name]


def test_shared_libraries_at_their_canonical_place(members):
    assert "usr/lib/x86_64-linux-gnu/libc.so.6" in members or any(n.endswith("/libc.so.6") for n in members)
    loaders = [name for name in members if os.path.basename(name).startswith("ld-linux")]
    assert loaders and all(members[name].isfile() for name in loaders)
    for link in ("bin", "lib", "lib64"):
        if os.path.islink("/" + link):
            assert members[link].issym() and members[link].linkname == os.readlink("/" + link)


def test_added_files_directories_and_ownership(members):
    added = members["usr/lib/mesos-standin/mesos_standin.py"]
    assert added.isfile() and added.mode == 0o644
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert members["etc/passwd"].isfile()
    assert {(member.uid, member.gid) for member in members.values()} == {(0, 0)}
    names = list(members)
    for name in names:  # every directory comes before what it holds
        parent = os.path.dirname(name)
        assert not parent or names.index(parent) < names.index(name)


def test_add_argument():
    assert standin_rootfs.parse_add("a.py:/opt/a.py") == ("a.py", "/opt/a.py", 0o644)
    assert standin_rootfs.parse_add("a:/usr/bin/a:755") == ("a", "/usr/bin/a", 0o755)
    for bad in ("a.py", "a.py:relative", ":/x"):
        with pytest.raises(argparse.ArgumentTypeError):
            standin_rootfs.parse_add(bad)
