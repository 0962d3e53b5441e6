"""shepherd.fleet.deb_packages_info through ansible-playbook on this (Debian) machine: what dpkg has installed is
found, at its version; unknown packages and other versions are missing; check mode answers the same; bad input
fails naming the entry."""

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg (Debian)")


def installed_version(name):
    return subprocess.run(["dpkg-query", "--show", "--showformat", "${Version}", name], capture_output=True,
                          text=True, check=True).stdout


def task(name, names, **extra):
    return dict({"name": name, "shepherd.fleet.deb_packages_info": {"names": names}, "ignore_errors": True}, **extra)


def test_missing_and_installed(tmp_path, playbook):
    dpkg = installed_version("dpkg")
    names = ["dpkg", "dpkg=" + dpkg.split(".")[0] + ".*", "shepherd-no-such-package", "dpkg=0.0.1-not-this"]
    rc, res = playbook(tmp_path, [task("look", names), task("look in check mode", names, check_mode=True)])
    assert rc == 0, res
    for result in (res["look"], res["look in check mode"]):
        assert not result["changed"]
        assert result["missing"] == ["shepherd-no-such-package", "dpkg=0.0.1-not-this"]
        assert result["installed"] == {"dpkg": dpkg}


def test_bad_names_fail_naming_the_entry(tmp_path, playbook):
    rc, res = playbook(tmp_path, [task("bad", ["dpkg", "dpkg>=1.0", "Bad Name"])])
    bad = res["bad"]
    assert bad["failed"]
    assert "names[1] ('dpkg>=1.0')" in bad["msg"] and "names[2] ('Bad Name')" in bad["msg"], bad["msg"]
