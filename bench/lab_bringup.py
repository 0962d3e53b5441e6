"""Benchmark: the whole lab, as `make lab` builds it (tests/lab/lab.yml: stand-ins, site.yml, firmware rollout).

Measures, with a lab of its own (name shepherd-bench, subnet 172.30.78.0/24, default sizes) so that it never
touches the developer's lab:

1. cold bring-up: from no lab at all to the status table (`shepherd lab up`: hosts, every layer, the sample
   apps, the rollout, the table);
2. warm re-run: `shepherd lab up` again, which must change nothing (changed=0 on every host, asserted); run
   three times (--warm-runs), the figure is the median: this machine's speed varies by ~20 % from minute to
   minute, and the first re-run follows the cold bring-up while the new lab's services still settle;
3. a new app: time to deploy one more Marathon app (playbooks/apps.yml with it added) until its tasks run.

Goals on a 2-core machine: cold <= 600 s, warm <= 60 s, new app < 30 s. Prints the load average with the
figures (the machine is shared). Run on demand, never in the timed tests (it takes minutes):

    python3 bench/lab_bringup.py [--keep] [--json] [--no-mitogen] [--warm-runs N]

`shepherd lab up` uses Mitogen when it is installed (figure `mitogen`); `--no-mitogen` measures plain Ansible.

The lab's inventory is a temporary folder holding the lab's layers.yml and group_vars (links) and the
generated hosts.yml; `--keep` leaves the lab running for a look (`shepherd lab down --name shepherd-bench`).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from shepherd.lab.mitogen import mitogen_strategy_dir

REPO = pathlib.Path(__file__).resolve().parents[1]
LAB = "shepherd-bench"
SUBNET = "172.30.78.0/24"
GOALS = {"cold_seconds": 600, "warm_seconds": 60, "new_app_seconds": 30}
NEW_APP = {
    "id": "/bench/new",
    "instances": 1,
    "cpus": 0.1,
    "mem": 16,
    "container": {"type": "DOCKER", "docker": {"image": "shepherd-test/busybox:local"}},
    "cmd": "while true; do sleep 10; done",
}


def shepherd(*args, check=True):
    """Run `shepherd ARGS` from the checkout (the lab finds its host definition there); its JSON lines."""
    done = subprocess.run(
        [sys.executable, "-m", "shepherd", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise SystemExit(f"shepherd {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def changed(records):
    """Total `changed` over every host of the run's result record."""
    result = next(record for record in reversed(records) if record.get("type") == "result")
    return sum(stats.get("changed", 0) for stats in result["hosts"].values()), result["status"]


def timed(function, *args, **kwargs):
    start = time.monotonic()
    value = function(*args, **kwargs)
    return time.monotonic() - start, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--no-mitogen", action="store_true", help="bring the lab up with plain Ansible")
    parser.add_argument("--warm-runs", type=int, default=3, help="warm re-runs to take the median of (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as folder:
        inventory = pathlib.Path(folder)
        (inventory / "layers.yml").symlink_to(REPO / "inventories" / "lab" / "layers.yml")
        (inventory / "group_vars").symlink_to(REPO / "inventories" / "lab" / "group_vars")
        common = ("--name", LAB, "--inventory-dir", inventory)
        up = ("lab", "up", *common, "--subnet", SUBNET, "--json", *(["--no-mitogen"] if args.no_mitogen else []))
        shepherd("lab", "down", *common)
        load_before = os.getloadavg()
        cold, records = timed(shepherd, *up)
        cold_changed, cold_status = changed(records)
        status_time, status = timed(shepherd, "lab", "status", "--name", LAB, "--json")
        warm_runs, warm_changed, warm_statuses = [], 0, []
        for _run in range(max(1, args.warm_runs)):
            warm, records = timed(shepherd, *up)
            warm_runs.append(round(warm, 1))
            run_changed, run_status = changed(records)
            warm_changed += run_changed
            warm_statuses.append(run_status)
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=folder, delete=False) as extra:
            json.dump({"marathon_apps": [NEW_APP]}, extra)
        new_app, records = timed(
            shepherd, "play", REPO / "playbooks" / "apps.yml", "-i", inventory, "-e", f"@{extra.name}", "--json"
        )
        new_app_changed, new_app_status = changed(records)
        figures = {
            "cold_seconds": round(cold + status_time, 1),
            "cold_changed": cold_changed,
            "warm_seconds": round(statistics.median(warm_runs), 1),
            "warm_runs": warm_runs,
            "warm_changed": warm_changed,
            "new_app_seconds": round(new_app, 1),
            "new_app_changed": new_app_changed,
            "apps_tasks": len(status[0]["apps"]) if status else 0,
            "devices_firmware": status[0]["firmware"] if status else {},
            "statuses": [cold_status, *warm_statuses, new_app_status],
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "cpus": os.cpu_count(),
            "mitogen": not args.no_mitogen and mitogen_strategy_dir() is not None,
        }
        if not args.keep:
            shepherd("lab", "down", *common)
    figures["goals_met"] = {name: figures[name] <= goal for name, goal in GOALS.items()}
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:22} {value}")
    if warm_changed != 0:
        raise SystemExit(f"the warm re-runs changed {warm_changed} things; they must change nothing")
    if new_app_changed == 0:
        raise SystemExit("the new app was not deployed (no change reported)")


if __name__ == "__main__":
    main()
