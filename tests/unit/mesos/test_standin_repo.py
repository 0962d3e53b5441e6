"""The stand-in packages and their signed repository (needs dpkg-deb and gpg, as the scenario does)."""

import pathlib
import shutil
import subprocess

import pytest

import build_repo

STANDINS = pathlib.Path(__file__).resolve().parents[2] / "standins"


@pytest.mark.skipif(not (shutil.which("dpkg-deb") and shutil.which("gpg") and shutil.which("gpgv")),
                    reason="needs dpkg-deb, gpg and gpgv")
def test_repository_is_signed_and_packages_say_stand_in(tmp_path):
    repo = tmp_path / "repo"
    assert build_repo.main(["--standins", str(STANDINS), "--out", str(repo), "--suite", "bookworm"]) == 0
    packages = (repo / "dists" / "bookworm" / "main" / "binary-all" / "Packages").read_text()
    assert "Package: aventer-mesos" in packages
    assert packages.count("Description: STAND-IN") == packages.count("Package: ")
    keyring = tmp_path / "key.gpg"
    subprocess.run(["gpg", "--dearmor", "-o", str(keyring), str(repo / "key.asc")], check=True)
    subprocess.run(["gpgv", "--keyring", str(keyring), str(repo / "dists" / "bookworm" / "InRelease")], check=True,
                   capture_output=True)
    deb = next((repo / "pool" / "main").glob("aventer-mesos_*.deb"))
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], check=True, capture_output=True, text=True).stdout
    for path in ("./usr/sbin/mesos-master", "./usr/sbin/mesos-agent", "./lib/systemd/system/mesos-master.service",
                 "./lib/systemd/system/mesos-slave.service"):
        assert path in contents
