"""Fault injection: stop the agent at every step boundary (each write, rename, fsync, link, unlink) of apply,
rollback, recover and self-update, run `recover`, and check the invariant every time:
running is a complete verified set, old or new, never a mix; backup the previous good set; nothing half done."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils import ota_agent_cli, ota_fetch, ota_manifest
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_engine import Engine
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_errors import OtaError

import otakit

CRASH_EXIT = 137
HEALTHY = {"command": "test -x app", "timeout": 10, "attempts": 2, "interval": 0}
FAILING = {"command": "exit 1", "timeout": 10, "attempts": 2, "interval": 0}
KINDS = ("write", "fsync", "rename", "fsync-dir", "symlink", "unlink", "mkdir", "rmtree")


def blob(tag, size=2500):
    return (tag.encode() * size)[:size]


@pytest.fixture(name="lab", scope="module")
def fixture_lab(tmp_path_factory):
    """Releases and prepared device roots (templates copied for each crash)."""
    # on a tmpfs when there is one: fsync costs nothing there, and what is tested is the order of the steps
    # (a crash at each boundary), not the disk's durability; hundreds of fsyncs on a busy disk take minutes
    shm = pathlib.Path("/dev/shm")
    scratch = tempfile.mkdtemp(prefix="ota-faults-", dir=str(shm)) if shm.is_dir() and os.access(shm, os.W_OK) else None
    base = pathlib.Path(scratch) if scratch else tmp_path_factory.mktemp("ota-faults")
    saved_tmpdir = os.environ.get("TMPDIR")
    if scratch:  # the agents' self-tests run in a scratch directory of their own: there too
        os.environ["TMPDIR"] = scratch
    fw = base / "fw"
    urls = {
        "v0": otakit.make_release(fw, "v0", 1, {"app": blob("a0"), "lib": blob("l0")}, HEALTHY),
        "v1": otakit.make_release(fw, "v1", 2, {"app": blob("a1"), "lib": blob("l1"), "cfg": b"x"}, HEALTHY),
        "v2": otakit.make_release(fw, "v2", 3, {"app": blob("a2"), "lib": blob("l1"), "cfg": b"x"}, HEALTHY),
        "v3": otakit.make_release(fw, "v3", 4, {"app": blob("a3"), "lib": blob("l3")}, FAILING),
        "a1": otakit.make_release(fw, "a1", 5, {"app": blob("a1"), "ota-agent": otakit.agent_source("1.0.1")},
                                  HEALTHY, agent="ota-agent"),
        "a2": otakit.make_release(fw, "a2", 6, {"app": blob("a2"), "ota-agent": otakit.agent_source("2.0.0")},
                                  HEALTHY, agent="ota-agent"),
    }
    templates = {"empty": base / "t-empty"}
    for name, steps in (("v1", ["v0", "v1"]), ("v2", ["v0", "v1", "v2"]), ("a1", ["v0", "v1", "a1"])):
        templates[name] = base / ("t-" + name)
        engine = Engine(str(templates[name]))
        for release in steps:
            engine.apply(urls[release])
    # states that need recovering: an apply stopped right after running was switched (trial pending),
    # and a failing apply stopped right after running was switched back (revert pending)
    for name, template, release in (("mid-v2", "v1", "v2"), ("mid-v3", "v1", "v3")):
        labels = run_agent(base / "probe", templates[template], ["apply", urls[release]])[1]
        wanted = [i for i, label in enumerate(labels, 1) if label == "rename running"][-1]
        templates[name] = base / ("t-" + name)
        code = run_agent(templates[name], templates[template], ["apply", urls[release]], crash_at=wanted)[0]
        assert code == CRASH_EXIT
    yield {"urls": urls, "templates": templates, "base": base}
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
        if saved_tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_tmpdir


def run_agent(root, template, args, crash_at=0, chunk=1024):
    """Copy template to root and run `ota-agent --root root -q ARGS` in a forked child that dies like kill -9
    (os._exit: no cleanup, no finally) right after step boundary crash_at. Returns (exit code, step labels)."""
    root = pathlib.Path(root)
    if root.exists():
        shutil.rmtree(root)
    if pathlib.Path(template).exists():
        shutil.copytree(template, root, symlinks=True)
    log = pathlib.Path(str(root) + ".steps.json")
    pid = os.fork()
    if pid == 0:  # the child: a whole agent run
        code = 70
        try:
            labels = []

            def hook(number, label):
                labels.append(label)
                if number == crash_at:
                    os._exit(CRASH_EXIT)

            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            code = ota_agent_cli.main(["--root", str(root), "-q"] + list(args), step_hook=hook, chunk=chunk)
            log.write_text(json.dumps(labels))
        finally:
            os._exit(code)
    status = os.waitpid(pid, 0)[1]
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    labels = json.loads(log.read_text()) if not crash_at else []
    return code, labels


def crash_everywhere(lab, name, template, args, allowed, clean_code, after=None, chunk=1024):
    """Run args once to count its boundaries, then once per boundary stopping there; recover; check."""
    work = lab["base"] / ("work-" + name)
    work.mkdir(exist_ok=True)
    code, labels = run_agent(work / "clean", lab["templates"][template], args, chunk=chunk)
    assert code == clean_code, "the clean run of %s exited %d" % (name, code)
    assert labels, "no step boundary was reported"

    def one(number):
        root = work / ("crash-%d" % number)
        code = run_agent(root, lab["templates"][template], args, crash_at=number, chunk=chunk)[0]
        assert code == CRASH_EXIT, "boundary %d (%s) was not reached: exit %d" % (number, labels[number - 1], code)
        try:
            Engine(str(root)).recover()
            pair = otakit.check_invariant(root, allowed)
            if after:
                after(root, pair)
        except (AssertionError, OtaError) as exc:
            raise AssertionError("crash at boundary %d/%d (%s): %s" % (number, len(labels), labels[number - 1], exc))
        shutil.rmtree(root)
        return pair

    outcomes = [one(number) for number in range(1, len(labels) + 1)]
    kinds = sorted({label.split()[0] for label in labels})
    print("\n%s: %d boundaries (%s), recovered to %s" % (
        name, len(labels), ", ".join(kinds), {pair: outcomes.count(pair) for pair in set(outcomes)}))
    return labels, outcomes


def reapply(lab, release, expected):
    def after(root, dummy):
        Engine(str(root)).apply(lab["urls"][release])  # every step is restartable: the update still goes through
        otakit.check_invariant(root, [expected])
    return after


def test_apply_first_install(lab):
    labels, outcomes = crash_everywhere(lab, "apply-first", "empty", ["apply", lab["urls"]["v0"]],
                                        [(None, None), ("v0", None)], 0, reapply(lab, "v0", ("v0", None)))
    assert {"write", "fsync", "rename", "fsync-dir", "symlink", "mkdir"} <= {label.split()[0] for label in labels}
    assert set(outcomes) == {(None, None), ("v0", None)}


def test_apply_update(lab):
    labels, outcomes = crash_everywhere(lab, "apply-update", "v1", ["apply", lab["urls"]["v2"]],
                                        [("v1", "v0"), ("v2", "v1")], 0, reapply(lab, "v2", ("v2", "v1")))
    assert "link .lib.part" in labels  # the unchanged program was hard-linked, not downloaded
    assert sum(label == "write app" for label in labels) == 3  # 2500 bytes in 1 KiB chunks
    assert set(outcomes) == {("v1", "v0"), ("v2", "v1")}


def test_apply_failing_health_check_rolls_back(lab):
    labels, outcomes = crash_everywhere(lab, "apply-rollback", "v1", ["apply", lab["urls"]["v3"]],
                                        [("v1", "v0")], 3)
    assert labels.count("rename running") == 2  # switched to v3, then back to v1
    assert set(outcomes) == {("v1", "v0")}


def test_rollback_on_demand(lab):
    dummy, outcomes = crash_everywhere(lab, "rollback", "v2", ["rollback"], [("v2", "v1"), ("v1", "v2")], 0)
    assert set(outcomes) == {("v2", "v1"), ("v1", "v2")}


def test_recover_of_an_interrupted_update(lab):
    dummy, outcomes = crash_everywhere(lab, "recover-trial", "mid-v2", ["recover"], [("v2", "v1")], 0)
    assert set(outcomes) == {("v2", "v1")}


def test_recover_of_an_interrupted_rollback(lab):
    dummy, outcomes = crash_everywhere(lab, "recover-revert", "mid-v3", ["recover"], [("v1", "v0")], 0)
    assert set(outcomes) == {("v1", "v0")}


def test_self_update(lab):
    old, new = otakit.md5(otakit.agent_source("1.0.1")), otakit.md5(otakit.agent_source("2.0.0"))
    launched = []

    def after(root, pair):
        agent = root / "agent"
        current = otakit.md5((agent / "current").read_bytes())
        assert current == (new if pair[0] == "a2" else old)
        if pair[0] == "a2":
            assert otakit.md5((agent / "fallback").read_bytes()) == old, "the old agent is not the fallback"
        reapply(lab, "a2", ("a2", "a1"))(root, pair)
        assert otakit.md5((agent / "current").read_bytes()) == new
        if not launched:  # the launcher runs the new agent (once: a process start is slow on a busy machine)
            out = subprocess.run([str(otakit.AGENT), "--root", str(root), "--version"], stdout=subprocess.PIPE,
                                 check=True).stdout
            assert out.startswith(b"ota-agent 2.0.0")
            launched.append(out)

    labels, outcomes = crash_everywhere(lab, "self-update", "a1", ["apply", lab["urls"]["a2"]],
                                        [("a1", "v1"), ("a2", "a1")], 0, after, chunk=32768)
    assert "rename current" in labels and "rename fallback" in labels and launched
    assert set(outcomes) == {("a1", "v1"), ("a2", "a1")}


def test_kill_9_mid_download_then_resume_with_range(tmp_path):
    """A real SIGKILL while a slow download is under way; recover; the next apply resumes with HTTP Range.
    12 MiB: more than the pipeline's buffers, so the receive -> hash -> write threads are what gets killed."""
    fw = tmp_path / "fw"
    size = 12 * 1024 * 1024
    assert size > ota_fetch.BUFFERS * ota_manifest.CHUNK
    otakit.make_release(fw, "v1", 1, {"app": os.urandom(size)})
    root = tmp_path / "root"
    with otakit.fault_server(fw) as server:
        server.delay = 0.02  # seconds between 64 KiB blocks: about 4 s for the file
        url = server.url + "/v1/manifest.json"
        proc = subprocess.Popen([str(otakit.AGENT), "--root", str(root), "-q", "apply", url])
        part = root / "update" / ".app.part"
        deadline = time.time() + 20
        while time.time() < deadline and not (part.exists() and part.stat().st_size > 256 * 1024):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        Engine(str(root)).recover()
        otakit.check_invariant(root, [(None, None)])
        partial = part.stat().st_size
        assert 0 < partial < size
        server.delay = 0
        assert Engine(str(root)).apply(url)["result"] == "updated"
        ranges = [rng for path, rng in server.requests if path.endswith("/app") and rng]
        assert ranges and int(ranges[-1][len("bytes="):-1]) >= partial, server.requests
    otakit.check_invariant(root, [("v1", None)])
