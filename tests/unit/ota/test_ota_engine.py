"""The slot engine in-process, with file:// manifests: apply, plan, downgrade, health, rollback, recover, self-update."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils.ota_engine import Engine
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_errors import EXIT_ROLLED_BACK, OtaError

import otakit

HEALTHY = {"command": "test -x app", "timeout": 10, "attempts": 2, "interval": 0}
FAILING = {"command": "echo broken >&2; exit 3", "timeout": 10, "attempts": 2, "interval": 0}


@pytest.fixture(name="fw")
def fixture_fw(tmp_path):
    """Three releases: 1.0 and 2.0 share `lib`, 3.0 fails its health check."""
    base = tmp_path / "fw"
    urls = {
        "1.0": otakit.make_release(base, "1.0", 1, {"app": b"app 1\n" * 100, "lib": b"lib 1\n" * 50}, HEALTHY),
        "2.0": otakit.make_release(base, "2.0", 2, {"app": b"app 2\n" * 100, "lib": b"lib 1\n" * 50}, HEALTHY),
        "3.0": otakit.make_release(base, "3.0", 3, {"app": b"app 3\n" * 100, "lib": b"lib 3\n" * 50}, FAILING),
    }
    return urls


def engine_at(tmp_path, **kwargs):
    return Engine(str(tmp_path / "root"), **kwargs)


def test_apply_then_current_then_update_links_unchanged_programs(tmp_path, fw):
    engine = engine_at(tmp_path)
    first = engine.apply(fw["1.0"])
    assert first["result"] == "updated" and first["changed"] and first["after"]["release"] == "1.0"
    again = engine.apply(fw["1.0"])
    assert again["result"] == "current" and not again["changed"]
    second = engine.apply(fw["2.0"])
    assert [(p["name"], p["action"]) for p in second["plan"]["programs"]] == [("app", "download"), ("lib", "keep")]
    assert otakit.check_invariant(tmp_path / "root", [("2.0", "1.0")])
    root = tmp_path / "root"
    assert os.stat(root / "running" / "lib").st_ino == os.stat(root / "backup" / "lib").st_ino  # hard link
    assert (root / "running" / "app").read_bytes() == b"app 2\n" * 100
    assert oct(os.stat(root / "running" / "app").st_mode & 0o777) == "0o755"
    status = engine.status(deep=True)
    assert status["running"]["sequence"] == 2 and status["backup"]["release"] == "1.0"
    assert status["running"]["problem"] is None and status["last_result"]["result"] == "updated"
    assert {p["name"]: p["md5"] for p in status["running"]["programs"]}["app"] == otakit.md5(b"app 2\n" * 100)


def test_plan_writes_nothing(tmp_path, fw):
    engine = engine_at(tmp_path)
    manifest, dummy = engine.load_manifest(fw["1.0"])
    plan = engine.plan(manifest)
    assert not plan["current"] and plan["download_bytes"] == 900
    assert not (tmp_path / "root").exists()


def test_downgrade_and_same_sequence_are_refused_unless_allowed(tmp_path, fw):
    engine = engine_at(tmp_path)
    engine.apply(fw["2.0"])
    with pytest.raises(OtaError, match=r"sequence: 1 is not higher than the running sequence 2 \(release 2.0\)"):
        engine.apply(fw["1.0"])
    assert otakit.releases_of(tmp_path / "root") == ("2.0", None)
    assert engine.apply(fw["1.0"], allow_downgrade=True)["after"]["release"] == "1.0"
    same = otakit.make_release(tmp_path / "fw", "1.0-b", 1, {"app": b"other"}, HEALTHY)
    with pytest.raises(OtaError, match="sequence: 1 is not higher"):
        engine.apply(same)


def test_failed_health_check_rolls_back_and_keeps_the_good_sets_budget(tmp_path, fw):
    engine = engine_at(tmp_path)
    engine.apply(fw["1.0"])
    engine.apply(fw["2.0"])
    with pytest.raises(OtaError) as err:
        engine.apply(fw["3.0"])
    assert err.value.rolled_back and err.value.code == EXIT_ROLLED_BACK
    assert "failed 2 times in a row" in str(err.value) and "exited with 3" in str(err.value)
    otakit.check_invariant(tmp_path / "root", [("2.0", "1.0")])
    status = engine.status()
    assert status["last_result"]["result"] == "rolled_back" and "broken" in status["last_result"]["error"]
    # the good set is not on trial: recovering (a reboot) leaves it running, whatever 3.0 used up
    assert not engine.recover()["changed"]
    otakit.check_invariant(tmp_path / "root", [("2.0", "1.0")])
    # the rolled-back manifest is not applied again by the timer...
    with pytest.raises(OtaError, match="was rolled back on .* not applying it again"):
        engine.apply(fw["3.0"])
    # ...unless asked, and then it is tried (and rolled back) again
    with pytest.raises(OtaError, match="rolled back"):
        engine.apply(fw["3.0"], retry_rejected=True)
    otakit.check_invariant(tmp_path / "root", [("2.0", "1.0")])


def test_health_check_runs_in_the_running_set_with_its_environment(tmp_path):
    url = otakit.make_release(tmp_path / "fw", "1.0", 7, {"app": b"x"}, {
        "command": 'test "$(basename "$(pwd -P)")" = "$OTA_SLOT" && test "$OTA_SEQUENCE" = 7 && test -f app',
        "timeout": 5, "attempts": 1, "interval": 0})
    assert engine_at(tmp_path).apply(url)["result"] == "updated"


def test_health_timeout_counts_as_failure(tmp_path):
    url = otakit.make_release(tmp_path / "fw", "1.0", 1, {"app": b"x"},
                              {"command": "sleep 5", "timeout": 0.2, "attempts": 1, "interval": 0})
    with pytest.raises(OtaError, match="timed out after 0.2 s"):
        engine_at(tmp_path).apply(url)
    assert otakit.releases_of(tmp_path / "root") == (None, None)  # the first install was undone


def test_rollback_on_demand_swaps_and_rejects(tmp_path, fw):
    engine = engine_at(tmp_path)
    with pytest.raises(OtaError, match="no complete backup"):
        engine.rollback()
    engine.apply(fw["1.0"])
    engine.apply(fw["2.0"])
    result = engine.rollback()
    assert result["after"]["release"] == "1.0" and result["before"]["release"] == "2.0"
    otakit.check_invariant(tmp_path / "root", [("1.0", "2.0")])
    with pytest.raises(OtaError, match="was rolled back"):
        engine.apply(fw["2.0"])


def test_recover_replaces_a_damaged_running_set_by_the_backup(tmp_path, fw):
    engine = engine_at(tmp_path)
    assert engine.recover()["action"] == "nothing to do"
    engine.apply(fw["1.0"])
    engine.apply(fw["2.0"])
    os.unlink(tmp_path / "root" / "running" / "app")
    result = engine.recover()
    assert result["changed"] and result["running"]["release"] == "1.0"


def test_a_corrupt_running_copy_is_downloaded_instead_of_linked(tmp_path, fw):
    engine = engine_at(tmp_path)
    engine.apply(fw["1.0"])
    lib = tmp_path / "root" / "running" / "lib"
    lib.write_bytes(b"LIB 1\n" * 50)  # same size, other bytes
    engine.apply(fw["2.0"])
    assert (tmp_path / "root" / "running" / "lib").read_bytes() == b"lib 1\n" * 50


def test_self_update_installs_the_new_agent_and_keeps_the_old_one_as_fallback(tmp_path):
    base = tmp_path / "fw"
    engine = engine_at(tmp_path)
    engine.apply(otakit.make_release(base, "1.0", 1, {"app": b"a", "ota-agent": otakit.agent_source("1.0.1")},
                                     agent="ota-agent"))
    engine.apply(otakit.make_release(base, "2.0", 2, {"app": b"a", "ota-agent": otakit.agent_source("2.0.0")},
                                     agent="ota-agent"))
    agent = tmp_path / "root" / "agent"
    out = subprocess.run([sys.executable, str(agent / "current"), "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("ota-agent 2.0.0")
    assert otakit.md5((agent / "fallback").read_bytes()) == otakit.md5(otakit.agent_source("1.0.1"))
    otakit.check_invariant(tmp_path / "root", [("2.0", "1.0")])
    # the launcher runs agent/current; a broken current falls back to the previous agent
    launched = subprocess.run([str(otakit.AGENT), "--root", str(tmp_path / "root"), "--version"],
                              capture_output=True, text=True, check=True)
    assert launched.stdout.startswith("ota-agent 2.0.0")
    os.chmod(agent / "current", 0o644)
    (agent / "current").resolve().write_text("this is not an agent\n")
    launched = subprocess.run([str(otakit.AGENT), "--root", str(tmp_path / "root"), "--version"],
                              capture_output=True, text=True, check=True)
    assert launched.stdout.startswith("ota-agent 1.0.1") and "agent/current is damaged" in launched.stderr


def test_an_agent_that_fails_its_self_test_is_refused_before_the_switch(tmp_path):
    base = tmp_path / "fw"
    engine = engine_at(tmp_path)
    engine.apply(otakit.make_release(base, "1.0", 1, {"app": b"a"}))
    bad = otakit.agent_source("6.6.6", patch=('report["ok"] = all(checks)', 'report["ok"] = False'))
    with pytest.raises(OtaError, match=r"programs \(ota-agent\): the new agent failed its self-test"):
        engine.apply(otakit.make_release(base, "2.0", 2, {"app": b"b", "ota-agent": bad}, agent="ota-agent"))
    otakit.check_invariant(tmp_path / "root", [("1.0", None)])
    assert engine.status()["last_result"]["result"] == "failed"


def _keypair(tmp_path, name):
    key, pub = tmp_path / (name + ".key"), tmp_path / (name + ".pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    return key, pub


def _sign(key, manifest_path):
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(manifest_path),
                    "-out", str(manifest_path) + ".sig"], check=True, capture_output=True)


def test_signed_manifests_with_key_rotation(tmp_path, fw):
    old_key, old_pub = _keypair(tmp_path, "old")
    new_key, new_pub = _keypair(tmp_path, "new")
    stranger, dummy = _keypair(tmp_path, "stranger")
    engine = engine_at(tmp_path, trusted_keys=[str(old_pub), str(new_pub)])
    manifest_path = fw["1.0"][len("file://"):]
    with pytest.raises(OtaError, match="signature: cannot fetch"):
        engine.apply(fw["1.0"])
    _sign(stranger, manifest_path)
    with pytest.raises(OtaError, match="signature: .* is not signed by any of the 2 trusted keys"):
        engine.apply(fw["1.0"])
    assert not (tmp_path / "root").exists()  # refused before a byte was written
    _sign(old_key, manifest_path)
    assert engine.apply(fw["1.0"])["result"] == "updated"
    manifest2 = fw["2.0"][len("file://"):]
    _sign(new_key, manifest2)
    with open(manifest2 + ".sig", "rb") as handle:  # base64 signatures are accepted too
        signature = handle.read()
    with open(manifest2 + ".sig", "wb") as handle:
        handle.write(__import__("base64").b64encode(signature) + b"\n")
    assert engine.apply(fw["2.0"])["after"]["release"] == "2.0"
    with open(manifest2, "a") as handle:
        handle.write(" ")
    with pytest.raises(OtaError, match="not signed"):
        engine.apply(fw["2.0"])


def test_status_of_an_empty_root_and_the_cli_json(tmp_path, fw):
    assert engine_at(tmp_path).status()["running"] is None
    root = str(tmp_path / "root")
    proc = subprocess.run([str(otakit.AGENT), "--root", root, "apply", fw["1.0"]], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(otakit.AGENT), "--root", root, "status", "--json"], capture_output=True, text=True,
                          check=True)
    status = json.loads(proc.stdout)
    assert status["running"]["release"] == "1.0" and status["running"]["sequence"] == 1
    assert status["backup"] is None
    assert status["last_result"]["result"] == "updated" and status["last_result"]["error"] is None
    assert {p["name"]: p["version"] for p in status["running"]["programs"]} == {"app": "1.0", "lib": "1.0"}
    assert {p["name"]: p["md5"] for p in status["running"]["programs"]}["app"] == otakit.md5(b"app 1\n" * 100)
    text = subprocess.run([str(otakit.AGENT), "--root", root, "status"], capture_output=True, text=True,
                          check=True).stdout
    assert "running  release 1.0, sequence 1" in text and "backup   none" in text and "last     updated" in text
