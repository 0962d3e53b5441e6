"""Run the Marathon modules through ansible-playbook against the Marathon stand-in on 127.0.0.1 (free ports)."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
STANDIN_DIR = REPO / "tests" / "standins" / "marathon"
if str(STANDIN_DIR) not in sys.path:
    sys.path.insert(0, str(STANDIN_DIR))

import marathon_standin  # noqa: E402  (the stand-in is a single file, not a package)


def ansible_playbook():
    venv = REPO / ".venv" / "bin" / "ansible-playbook"
    return str(venv) if venv.exists() else shutil.which("ansible-playbook")


class Run:
    """One ansible-playbook run: rc, each task's result by name, the raw output."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout, self.stderr = proc.stdout, proc.stderr
        try:
            self.data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook gave no JSON (rc %s):\n%s\n%s" % (self.rc, proc.stdout[-3000:],
                                                                                     proc.stderr[-3000:]))
        self.tasks = {}
        for play in self.data["plays"]:
            for task in play["tasks"]:
                self.tasks[task["task"]["name"]] = task["hosts"].get("localhost", {})

    def __getitem__(self, name):
        return self.tasks[name]

    @property
    def changed(self):
        return self.data["stats"]["localhost"]["changed"]


@pytest.fixture
def playbook(tmp_path):
    """playbook(tasks, check=False, diff=False) -> Run. Tasks are dicts (JSON is YAML)."""

    def run(tasks, check=False, diff=False, path=None, inventory="localhost,", expect_rc=None):
        if path is None:
            path = tmp_path / "play.yml"
            path.write_text(json.dumps([{"name": "marathon integration", "hosts": "localhost",
                                         "connection": "local", "gather_facts": False, "tasks": tasks}]))
        cmd = [ansible_playbook(), "-i", str(inventory), str(path)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_PIPELINING="true")
        # Other callbacks (e.g. profile_tasks from the caller's environment) would print into the JSON.
        env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
        proc = subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=170, check=False)
        result = Run(proc)
        if expect_rc is not None:
            assert result.rc == expect_rc, proc.stdout[-4000:] + proc.stderr[-2000:]
        return result

    return run


@pytest.fixture
def standin():
    server = marathon_standin.MarathonStandin(port=0, deploy_seconds=0.1).start()
    yield server
    server.stop()


@pytest.fixture
def make_standin():
    started = []

    def make(**kwargs):
        kwargs.setdefault("deploy_seconds", 0.1)
        server = marathon_standin.MarathonStandin(port=0, **kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
