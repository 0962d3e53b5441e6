"""Shared by the integration tests: run a play of module tasks on localhost through ansible-playbook."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_localhost_play(tmp_path, tasks, *flags):
    """Run tasks on localhost (this Python, the checkout's collections); returns (rc, {task name: result})."""
    path = tmp_path / ("play-%d.yml" % len(list(tmp_path.glob("play-*.yml"))))
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    binary = REPO / ".venv" / "bin" / "ansible-playbook"
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # another callback would print into the JSON
    command = [str(binary) if binary.exists() else shutil.which("ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + sys.executable, str(path)] + list(flags)
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(REPO), timeout=300, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook (rc %d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    results = {}
    for play in data["plays"]:
        for task in play["tasks"]:
            results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    return proc.returncode, results


@pytest.fixture(name="playbook")
def fixture_playbook():
    """run_localhost_play as a fixture: playbook(tmp_path, tasks, *flags) -> (rc, {task name: result})."""
    return run_localhost_play
