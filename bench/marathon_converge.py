"""Benchmark: converge N Marathon apps with shepherd.fleet.marathon_app against the Marathon stand-in.

Measures, through ansible-playbook (one task looping over the apps, as playbooks/apps.yml does):

1. the first converge (every app created, each deployment waited for);
2. the no-op converge (nothing changed): requests per app and time;
3. the floor: the same loop doing exactly one ``GET /v2/apps/{id}`` per app with ansible.builtin.uri, which is
   the least any compare-first module can do.

The goal (issue 6): the no-op converge within 1.2x of the floor. Run on demand, never in the timed tests:

    python3 bench/marathon_converge.py [--apps 100] [--deploy-seconds 0.05] [--json]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "standins" / "marathon"))

import marathon_standin  # noqa: E402  pylint: disable=wrong-import-position


def ansible_playbook():
    venv = REPO / ".venv" / "bin" / "ansible-playbook"
    return str(venv) if venv.exists() else "ansible-playbook"


def app_definition(index):
    """A realistic app: sets that come back reordered, an assigned port, defaults Marathon fills in."""
    return {"cmd": "python3 -m http.server $PORT0", "cpus": 0.1, "mem": 64, "instances": 2,
            "env": {"APP_INDEX": str(index), "MODE": "bench"}, "labels": {"team": "bench", "tier": "web"},
            "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]],
            "portDefinitions": [{"port": 0, "name": "http"}],
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0}],
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}}


def write_playbook(folder, name, task):
    path = pathlib.Path(folder) / ("%s.yml" % name)
    path.write_text(json.dumps([{"name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
                                 "tasks": [task]}]))
    return path


def run_playbook(path):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    started = time.monotonic()
    proc = subprocess.run([ansible_playbook(), "-i", "localhost,", str(path)], cwd=str(REPO), env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("%s failed (rc %d):\n%s\n%s" % (path.name, proc.returncode, proc.stdout[-3000:],
                                                         proc.stderr[-3000:]))
    results = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["results"]
    return elapsed, sum(1 for item in results if item.get("changed"))


def measure(standin, path):
    with standin.state.lock:
        standin.state.requests = []
    elapsed, changed = run_playbook(path)
    with standin.state.lock:
        requests = [(r["method"], r["path"]) for r in standin.state.requests]
    # changed: how many apps the run reported changed
    return {"seconds": round(elapsed, 2), "changed": changed, "requests": len(requests),
            "gets": sum(1 for m, p in requests if m == "GET"), "writes": sum(1 for m, p in requests if m != "GET")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--apps", type=int, default=100, help="number of apps (default 100)")
    parser.add_argument("--deploy-seconds", type=float, default=0.05, help="how long each stand-in deployment takes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    standin = marathon_standin.MarathonStandin(port=0, deploy_seconds=args.deploy_seconds).start()
    apps = [{"id": "/bench/app-%03d" % i, "definition": app_definition(i)} for i in range(args.apps)]
    try:
        with tempfile.TemporaryDirectory() as folder:
            converge = write_playbook(folder, "converge", {
                "name": "converge", "shepherd.fleet.marathon_app": {
                    "url": standin.url, "id": "{{ item.id }}", "definition": "{{ item.definition }}"},
                "loop": apps, "loop_control": {"label": "{{ item.id }}"}})
            floor = write_playbook(folder, "floor", {
                "name": "one GET per app", "ansible.builtin.uri": {
                    "url": standin.url + "/v2/apps{{ item.id }}", "method": "GET", "return_content": False},
                "loop": apps, "loop_control": {"label": "{{ item.id }}"}})
            figures = {"apps": args.apps, "first": measure(standin, converge), "noop": measure(standin, converge),
                       "floor": measure(standin, floor)}
    finally:
        standin.stop()
    noop, base = figures["noop"], figures["floor"]
    figures["noop_requests_per_app"] = round(noop["requests"] / float(args.apps), 3)
    figures["first_requests_per_app"] = round(figures["first"]["requests"] / float(args.apps), 3)
    figures["noop_vs_floor_requests"] = round(noop["requests"] / float(base["requests"]), 3)
    figures["noop_vs_floor_time"] = round(noop["seconds"] / base["seconds"], 3)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print("%d apps against the Marathon stand-in (deployments take %.2fs)" % (args.apps, args.deploy_seconds))
        print("%-16s %9s %8s %9s %6s %7s" % ("run", "seconds", "changed", "requests", "GETs", "writes"))
        for name in ("first", "noop", "floor"):
            row = figures[name]
            print("%-16s %9.2f %8d %9d %6d %7d"
                  % (name, row["seconds"], row["changed"], row["requests"], row["gets"], row["writes"]))
        print("no-op converge: %.2f requests per app; %.2fx the floor in requests, %.2fx in time (goal <= 1.2x)"
              % (figures["noop_requests_per_app"], figures["noop_vs_floor_requests"], figures["noop_vs_floor_time"]))
    return 0 if figures["noop"]["changed"] == 0 and figures["noop_vs_floor_requests"] <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
