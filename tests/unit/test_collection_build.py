"""The collection tarball ships roles, modules and playbooks, never tests, stand-ins or the lab."""

import pathlib
import shutil
import subprocess
import sys
import tarfile

REPO = pathlib.Path(__file__).resolve().parents[2]
LEFT_OUT = ("tests/", "molecule/", "src/", "scripts/", "bench/", "inventories/lab/", ".ci/", ".cache/", ".venv/", ".config/")


def test_tarball_has_the_collection_and_no_test_or_lab_files(tmp_path):
    galaxy = shutil.which("ansible-galaxy", path=str(pathlib.Path(sys.executable).parent))
    subprocess.run([galaxy, "collection", "build", "--output-path", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, text=True)
    (tarball,) = tmp_path.glob("shepherd-fleet-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "roles/common/tasks/main.yml" in names
    assert "roles/docker/tasks/main.yml" in names
    assert "playbooks/site.yml" in names
    shipped_test_files = [name for name in names if name.startswith(LEFT_OUT)]
    assert shipped_test_files == []
