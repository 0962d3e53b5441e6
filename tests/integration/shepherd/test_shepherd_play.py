"""`shepherd play` and `shepherd.run` on small playbooks against localhost: a clean run, a failing one, an
unreachable host, Ctrl-C and a timeout. Checks the exit codes, the recap, the --json lines and the Result."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import shepherd
from shepherd.processes import alive, descendants

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"


@pytest.fixture(name="inventory")
def fixture_inventory(tmp_path):
    """localhost through the local connection, with this Python (it has no other dependency)."""
    path = tmp_path / "hosts.ini"
    path.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return path


def shepherd_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "shepherd", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )


def json_lines(stdout):
    """Every stdout line must be one JSON object; the last one is the result."""
    records = [json.loads(line) for line in stdout.splitlines()]
    assert records and records[-1]["type"] == "result"
    assert all(record["type"] == "event" for record in records[:-1])
    return records[:-1], records[-1]


def test_clean_run_exits_0_with_stats_in_json(inventory, tmp_path):
    marker = tmp_path / "marker"
    done = shepherd_cli(
        "play", PLAYBOOKS / "clean.yml", "-i", inventory, "-e", f"clean_marker_path={marker}", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    events, result = json_lines(done.stdout)
    assert result["status"] == "successful" and result["exit_code"] == 0 and result["rc"] == 0
    assert result["hosts"]["localhost"] == {
        "ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1, "rescued": 0, "ignored": 0
    }  # fmt: skip
    assert result["failed_tasks"] == [] and result["failed_hosts"] == []
    assert [e["task"] for e in events if e["event"] == "playbook_on_task_start"] == [
        "Write a marker file", "Read the marker back", "Skipped task"
    ]  # fmt: skip
    assert marker.read_text() == "shepherd integration test\n"
    assert (Path(result["artifact_dir"]) / "job_events").is_dir()


def test_failing_run_names_host_and_task_in_json(inventory, tmp_path):
    done = shepherd_cli("play", PLAYBOOKS / "failing.yml", "-i", inventory, "--json", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    events, result = json_lines(done.stdout)
    assert result["status"] == "failed" and result["exit_code"] == 2
    assert result["failed_hosts"] == ["localhost"]
    [failed] = result["failed_tasks"]
    assert (failed["host"], failed["task"], failed["play"]) == ("localhost", "Break on purpose", "Failing play")
    assert "disk on fire" in failed["message"]
    [event] = [e for e in events if e["event"] == "runner_on_failed"]
    assert (event["host"], event["task"], event["ignore_errors"]) == ("localhost", "Break on purpose", False)
    assert "Never reached" not in done.stdout


def test_failing_run_recap_for_people(inventory, tmp_path):
    done = shepherd_cli("play", PLAYBOOKS / "failing.yml", "-i", inventory, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    out = done.stdout
    assert "failed: localhost | Break on purpose | non-zero return code: disk on fire" in out
    assert "Recap" in out and "Failed tasks" in out
    assert out.rstrip().splitlines()[-1].startswith("failed in ") and "(exit 2, ansible rc 2)" in out


def test_unreachable_host_exits_4(tmp_path):
    inventory = tmp_path / "hosts.ini"
    # Nothing listens on port 1 of the loopback: ssh is refused at once.
    inventory.write_text("nowhere ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_ssh_retries=0\n")
    done = shepherd_cli("play", PLAYBOOKS / "unreachable.yml", "-i", inventory, "--json", cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    result = json_lines(done.stdout)[1]
    assert result["unreachable_hosts"] == ["nowhere"] and result["failed_hosts"] == []
    [task] = result["failed_tasks"]
    assert task["unreachable"] and task["task"] == "Reach the host"


def test_api_returns_a_typed_result(inventory, tmp_path):
    result = shepherd.run(
        PLAYBOOKS / "failing.yml", inventory, extra_vars={"unused": 1}, private_data_dir=tmp_path / "run"
    )
    assert isinstance(result, shepherd.Result)
    assert not result.ok and result.status == "failed" and result.rc == 2
    assert result.hosts["localhost"] == shepherd.HostStats(ok=1, failed=1)
    assert [(t.host, t.task) for t in result.failed_tasks] == [("localhost", "Break on purpose")]
    assert result.duration > 0 and result.artifact_dir.parent == tmp_path / "run" / "artifacts"
    assert (result.artifact_dir / "rc").read_text() == "2"


def sleepers(seconds):
    """pids of `sleep SECONDS` processes (the slow playbook's task) anywhere on the machine."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == f"sleep\0{seconds}\0".encode():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_ctrl_c_cancels_without_orphans(inventory, tmp_path):
    seconds = f"{300 + os.getpid() % 97}.{int(time.time()) % 1000}"  # unusual: finds only this test's sleep
    command = [sys.executable, "-m", "shepherd", "play", str(PLAYBOOKS / "slow.yml"), "-i", str(inventory),
               "-e", f"slow_seconds={seconds}", "--json"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as proc:
        try:
            for line in proc.stdout:  # wait until the task runs on the host
                if json.loads(line)["event"] == "runner_on_start":
                    break
            deadline = time.monotonic() + 60
            while not sleepers(seconds) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert sleepers(seconds), "the slow task never started"
            tree = descendants(proc.pid)
            proc.send_signal(signal.SIGINT)
            rest = proc.communicate(timeout=60)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130
    result = json.loads(rest.splitlines()[-1])
    assert result["type"] == "result" and result["status"] == "canceled" and result["exit_code"] == 130
    assert sleepers(seconds) == []
    deadline = time.monotonic() + 3  # a SIGKILLed process may take a moment to go
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in tree if alive(pid)] == [], "processes of the run outlived it"


def test_timeout_stops_the_run_without_orphans(inventory, tmp_path):
    seconds = f"{400 + os.getpid() % 97}.{int(time.time()) % 1000}"
    seen, finished = [], threading.Event()

    def watch():  # proves the sleep was running when the timeout struck
        while not finished.is_set():
            seen.extend(sleepers(seconds))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        result = shepherd.run(PLAYBOOKS / "slow.yml", inventory, extra_vars={"slow_seconds": seconds}, timeout=15)
    finally:
        finished.set()
        watcher.join()
    assert result.status == "timeout" and not result.ok and result.rc == 254
    assert seen, "the slow task never started within the timeout"
    assert time.monotonic() - started < 60
    assert sleepers(seconds) == []


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_reader_that_goes_away_does_not_stop_the_run(inventory, tmp_path, json_flag):
    """`shepherd play ... | head -1`: the run goes on to its end and the exit code is still the run's."""
    command = [sys.executable, "-m", "shepherd", "play", str(PLAYBOOKS / "failing.yml"), "-i", str(inventory), *json_flag]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as proc:
        proc.stdout.readline()
        proc.stdout.close()
        errors = proc.stderr.read()
        proc.wait(timeout=120)
    assert proc.returncode == 2, errors
    assert "Traceback" not in errors


def test_a_broken_on_event_callback_does_not_break_the_run(inventory, tmp_path):
    calls = []

    def broken(event, tracker):
        calls.append(event["event"])
        raise ValueError("bug in the caller")

    result = shepherd.run(PLAYBOOKS / "clean.yml", inventory, extra_vars={"clean_marker_path": str(tmp_path / "m")},
                          on_event=broken)  # fmt: skip
    assert result.ok and result.hosts["localhost"].changed == 1 and calls == ["playbook_on_start"]
    assert result.errors == ["shepherd: on_event failed and got no further events: ValueError: bug in the caller"]
