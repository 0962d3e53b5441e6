"""How much slower is a playbook run through `shepherd play` than through plain `ansible-playbook`?

Runs the same generated playbook (TASKS tasks on HOSTS local hosts: commands, file writes, debug messages) with
both commands, alternately, RUNS times each, after one warm-up of each; prints every run's wall-clock and CPU
time (user + system of the whole process tree), the medians and their ratios (goal: at most 1.05). Both write
their output to /dev/null; shepherd's run artifacts go to a temporary folder. Run from the repository root with the environment of the tests:

    python bench/runner_overhead.py [--runs 5] [--tasks 20] [--hosts 3] [--json]

The machine's other load shows in the wall-clock spread; the CPU times are less sensitive to it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_playbook(folder: Path, tasks: int) -> Path:
    """A playbook of TASKS tasks that do a little real work on each host."""
    lines = ["---", "- name: Overhead benchmark", "  hosts: all", "  gather_facts: false", "  tasks:"]
    for index in range(tasks):
        kind = index % 3
        if kind == 0:
            lines += [f"    - name: Command {index}", f"      ansible.builtin.command: echo {index}", "      changed_when: false"]
        elif kind == 1:
            lines += [
                f"    - name: File {index}",
                "      ansible.builtin.copy:",
                f'        content: "{index}\\n"',
                f'        dest: "{{{{ bench_dir }}}}/{{{{ inventory_hostname }}}}-{index}"',
                '        mode: "0600"',
            ]
        else:
            lines += [f"    - name: Message {index}", "      ansible.builtin.debug:", f'        msg: "step {index}"']
    path = folder / "playbook.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_inventory(folder: Path, hosts: int) -> Path:
    """HOSTS names for the local machine, each through the local connection with this Python."""
    path = folder / "hosts.ini"
    entries = [f"bench{i} ansible_connection=local ansible_python_interpreter={sys.executable}" for i in range(hosts)]
    path.write_text("\n".join(entries) + "\n", encoding="utf-8")
    return path


def cpu_seconds() -> float:
    """User + system CPU seconds of every child process waited for so far (and of their waited children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds COMMAND took; it must succeed."""
    cpu_before, started = cpu_seconds(), time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed, cpu


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    parser.add_argument("--tasks", type=int, default=20, help="tasks in the playbook (default 20)")
    parser.add_argument("--hosts", type=int, default=3, help="local hosts in the inventory (default 3)")
    parser.add_argument("--json", action="store_true", help="time `shepherd play --json` instead of the display")
    args = parser.parse_args()
    ansible_playbook = shutil.which("ansible-playbook") or str(Path(sys.executable).parent / "ansible-playbook")
    with tempfile.TemporaryDirectory(prefix="shepherd-bench-") as tmp:
        folder = Path(tmp)
        playbook, inventory = write_playbook(folder, args.tasks), write_inventory(folder, args.hosts)
        env = {**os.environ, "SHEPHERD_RUNS_DIR": str(folder / "runs"), "ANSIBLE_FORCE_COLOR": "0"}
        common = [str(playbook), "-i", str(inventory), "-e", f"bench_dir={folder}"]
        commands = {
            "ansible-playbook": [ansible_playbook, *common],
            "shepherd play": [sys.executable, "-m", "shepherd", "play", *common, *(["--json"] if args.json else [])],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for name, command in commands.items():
            timed(command, env)  # warm-up: file caches, compiled bytecode
        print(f"{args.tasks} tasks x {args.hosts} hosts, {args.runs} runs each, alternating", flush=True)
        for run in range(args.runs):
            order = list(commands) if run % 2 == 0 else list(reversed(commands))
            for name in order:
                wall, cpu = timed(commands[name], env)
                times[name].append(wall)
                cpus[name].append(cpu)
                print(f"  run {run + 1}  {name:<16} {wall:7.2f}s wall  {cpu:7.2f}s cpu", flush=True)
    for name, values in times.items():
        print(
            f"{name:<16} wall median {statistics.median(values):7.2f}s  min {min(values):7.2f}s  "
            f"max {max(values):7.2f}s   cpu median {statistics.median(cpus[name]):7.2f}s"
        )
    wrapper, plain = "shepherd play", "ansible-playbook"
    print(f"ratio of wall medians: {statistics.median(times[wrapper]) / statistics.median(times[plain]):.3f}  (goal <= 1.05)")
    # Each run's two commands ran back to back: their ratio is least disturbed by the machine's changing load.
    paired = statistics.median(w / p for w, p in zip(times[wrapper], times[plain]))
    print(f"median of paired wall ratios: {paired:.3f}")
    print(f"ratio of cpu medians: {statistics.median(cpus[wrapper]) / statistics.median(cpus[plain]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
