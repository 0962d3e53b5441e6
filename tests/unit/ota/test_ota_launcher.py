"""Which agent the launcher runs: the newest of agent/current, agent/fallback and the installed copy (the role's,
or this checkout's scripts/ota-agent), the self-updated one on a tie; an older self-update never wins."""

import os
import subprocess

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils import ota_agent_cli
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_selfupdate import (bundle_version, launcher_choice,
                                                                                    version_key)

import otakit

INSTALLED = ota_agent_cli.AGENT_VERSION  # what this checkout's scripts/ota-agent reports


def install_agent(root, link, version):
    """root/agent/<link> -> a real agent bundle reporting version, named by its md5 as the engine names them."""
    agent_dir = root / "agent"
    agent_dir.mkdir(parents=True, exist_ok=True)
    data = otakit.agent_source(version)
    name = "ota-agent-%s.pyz" % otakit.md5(data)
    (agent_dir / name).write_bytes(data)
    (agent_dir / name).chmod(0o755)
    if os.path.lexists(agent_dir / link):
        os.unlink(agent_dir / link)
    os.symlink(name, agent_dir / link)
    return agent_dir


def launched(root, env=None):
    """(first line of `scripts/ota-agent --root ROOT --version`, its stderr)."""
    proc = subprocess.run([str(otakit.AGENT), "--root", str(root), "--version"], capture_output=True, text=True,
                          check=True, env=dict(os.environ, **(env or {})))
    return proc.stdout.strip(), proc.stderr


@pytest.mark.parametrize("older, newer", [("1.0.0", "1.0.1"), ("1.9.2", "1.10.0"), ("1.1", "1.1.1"), ("0.9", "1")])
def test_versions_compare_as_numbers(older, newer):
    assert version_key(older) < version_key(newer)


def test_suffixes_compare_by_their_numbers_and_garbage_is_unreadable():
    assert version_key("1.1.0-molecule") == version_key("1.1.0")
    assert version_key("next") is None and version_key("") is None and version_key(None) is None


def test_bundle_version_reads_the_agent_inside(tmp_path):
    agent_dir = install_agent(tmp_path, "current", "3.2.1")
    assert bundle_version(str(agent_dir / "current")) == "3.2.1"
    (tmp_path / "junk.pyz").write_bytes(b"not a zip")
    assert bundle_version(str(tmp_path / "junk.pyz")) is None


def test_a_newer_self_updated_agent_wins_over_an_older_installed_one(tmp_path):
    install_agent(tmp_path, "current", "9.0.0")
    assert launched(tmp_path)[0].startswith("ota-agent 9.0.0 (%s" % (tmp_path / "agent" / "current"))


def test_on_a_tie_the_self_updated_agent_runs(tmp_path):
    agent_dir = install_agent(tmp_path, "current", INSTALLED)
    assert launcher_choice(str(agent_dir), INSTALLED) == ("current", [])
    assert launched(tmp_path)[0].startswith("ota-agent %s (%s" % (INSTALLED, agent_dir / "current"))


def test_an_older_self_updated_agent_does_not_shadow_a_newer_installed_one(tmp_path):
    agent_dir = install_agent(tmp_path, "fallback", "0.0.1")
    install_agent(tmp_path, "current", "0.1.0")
    out, err = launched(tmp_path)
    assert out.startswith("ota-agent %s (%s" % (INSTALLED, otakit.REPO / "plugins" / "module_utils"))
    assert "agent/current (0.1.0) is older than the installed agent %s" % INSTALLED in err
    assert (agent_dir / "current").is_file()  # nothing is removed: the next self-update may be newer again


def test_a_damaged_current_falls_back_to_the_fallback_only_when_that_is_not_older(tmp_path):
    agent_dir = install_agent(tmp_path, "fallback", "8.0.0")
    install_agent(tmp_path, "current", "9.0.0")
    os.chmod(agent_dir / "current", 0o644)
    (agent_dir / "current").resolve().write_bytes(b"damaged")
    assert launcher_choice(str(agent_dir), "8.0.0") == ("fallback", ["agent/current is damaged, not using it"])
    link, notes = launcher_choice(str(agent_dir), "8.1")
    assert link is None and notes[-1] == "agent/fallback (8.0.0) is older than the installed agent 8.1, running the " \
                                         "installed one"


def test_the_operator_can_insist_on_the_installed_agent(tmp_path):
    install_agent(tmp_path, "current", "9.0.0")
    out = launched(tmp_path, {ota_agent_cli.PREFER_INSTALLED: "1"})[0]
    assert out.startswith("ota-agent %s (%s" % (INSTALLED, otakit.REPO / "plugins" / "module_utils"))


def test_status_says_which_agent_runs(tmp_path):
    install_agent(tmp_path, "current", "9.0.0")
    proc = subprocess.run([str(otakit.AGENT), "--root", str(tmp_path), "status", "--json"], capture_output=True,
                          text=True, check=True)
    assert '"agent_running": "current"' in proc.stdout and '"agent_version": "9.0.0"' in proc.stdout
