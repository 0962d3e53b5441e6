"""What does cAdvisor cost on a Docker host with 20 containers: cAdvisor's own defaults against the role's?

Uses a Docker host of the monitoring scenario (converge it first: `molecule converge -s monitoring`), starts
CONTAINERS idle containers in it, then runs cAdvisor alternately with

  default  cAdvisor's own defaults (1 s housekeeping, its default metric groups, every cgroup, labels as labels)
  tuned    the flags of the unit the cadvisor role wrote (10-30 s housekeeping, fewer groups, Docker only)

each for WINDOW seconds after WARMUP seconds, ROUNDS times, both scraped like Prometheus would (/metrics every
SCRAPE seconds). Prints CPU time used (user + system, as a share of one core) and resident memory of the
cAdvisor process, per run and as medians. Run from the repository root:

    python bench/cadvisor_overhead.py [--host monitoring-docker1] [--containers 20] [--window 60] [--rounds 2]

The host shares the machine's cores with everything else, so read the CPU shares as relative, not absolute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

IMAGE = "shepherd-test/busybox:local"
PORT = 4195  # Not the role's 4194: the role's own cAdvisor is stopped during the runs, but its port stays ours.
UNIT = "bench-cadvisor"


def run(host: str, command: str, check: bool = True) -> str:
    """Run a shell command inside the test host and return its output."""
    result = subprocess.run(["docker", "exec", host, "bash", "-c", command], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit("in %s: %s failed: %s" % (host, command, result.stderr.strip()))
    return result.stdout.strip()


def start_containers(host: str, count: int) -> None:
    """Import a one-binary image (no registry) and start COUNT idle containers."""
    if not run(host, "docker image inspect %s >/dev/null 2>&1 && echo yes" % IMAGE, check=False):
        run(host, "apt-get install -y -qq busybox-static >/dev/null && rm -rf /tmp/bench-rootfs && mkdir -p /tmp/bench-rootfs/bin"
                  " && cp /bin/busybox /tmp/bench-rootfs/bin/ && ln -s busybox /tmp/bench-rootfs/bin/sleep"
                  " && tar -C /tmp/bench-rootfs -c . | docker import - %s >/dev/null" % IMAGE)
    for index in range(count):
        run(host, "docker run -d --name bench-%02d %s /bin/sleep 7200 >/dev/null" % (index, IMAGE))


def remove_containers(host: str, count: int) -> None:
    names = " ".join("bench-%02d" % index for index in range(count))
    run(host, "docker rm -f %s >/dev/null 2>&1" % names, check=False)


def role_unit(host: str) -> tuple:
    """The binary of the role's unit (package or binary method) and its flags, the port moved to the benchmark's."""
    unit = run(host, "systemctl show -p ExecStart --value cadvisor")
    if "argv[]=" not in unit:
        raise SystemExit("%s has no cadvisor unit: run `molecule converge -s monitoring` first" % host)
    argv = unit.split("argv[]=", 1)[1].split(" ;", 1)[0].split()
    return argv[0], [flag for flag in argv[1:] if not flag.startswith("-port=")] + ["-port=%d" % PORT]


def measure(host: str, binary: str, flags: list, timing: argparse.Namespace) -> dict:
    """Start cAdvisor with FLAGS as a transient unit; CPU share and RSS over the window after the warm-up."""
    warmup, window, scrape = timing.warmup, timing.window, timing.scrape
    run(host, "systemctl stop %s 2>/dev/null; systemctl reset-failed %s 2>/dev/null" % (UNIT, UNIT), check=False)
    run(host, "systemd-run --unit=%s %s %s" % (UNIT, binary, " ".join(flags)))
    try:
        pid = run(host, "systemctl show -p MainPID --value %s" % UNIT)
        time.sleep(warmup)
        ticks = int(run(host, "getconf CLK_TCK"))
        start_cpu, start = cpu_ticks(host, pid), time.monotonic()
        rss, deadline = [], start + window
        while time.monotonic() < deadline:
            run(host, "curl -sf -o /dev/null http://127.0.0.1:%d/metrics" % PORT, check=False)
            rss.append(int(run(host, "awk '/VmRSS/ {print $2}' /proc/%s/status" % pid)))
            time.sleep(min(scrape, max(0.0, deadline - time.monotonic())))
        used = (cpu_ticks(host, pid) - start_cpu) / ticks
        return {"cpu_share": used / (time.monotonic() - start), "rss_mib_mean": statistics.mean(rss) / 1024,
                "rss_mib_max": max(rss) / 1024, "series": series_count(host)}
    finally:
        run(host, "systemctl stop %s" % UNIT, check=False)


def cpu_ticks(host: str, pid: str) -> int:
    """utime + stime of the process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    fields = run(host, "cat /proc/%s/stat" % pid).rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def load_average() -> list:
    """The machine's load average over 1, 5 and 15 minutes: the CPU shares are only comparable under like load."""
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        return loadavg.read().split()[:3]


def series_count(host: str) -> int:
    """Number of samples the Prometheus endpoint returns: what every scrape costs downstream."""
    return int(run(host, "curl -sf http://127.0.0.1:%d/metrics | grep -vc '^#'" % PORT, check=False) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="monitoring-docker1")
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--scrape", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    binary, tuned = role_unit(args.host)
    flags = {"default": ["-port=%d" % PORT, "-logtostderr"], "tuned": tuned}
    load_before = load_average()
    results = {"default": [], "tuned": []}
    start_containers(args.host, args.containers)
    run(args.host, "systemctl stop cadvisor")
    try:
        for _round in range(args.rounds):
            for name in ("default", "tuned"):
                results[name].append(measure(args.host, binary, flags[name], args))
                if not args.json:
                    print("%-8s cpu %5.1f%% of a core  rss mean %5.1f MiB max %5.1f MiB  samples per scrape %d"
                          % (name, 100 * results[name][-1]["cpu_share"], results[name][-1]["rss_mib_mean"],
                             results[name][-1]["rss_mib_max"], results[name][-1]["series"]))
    finally:
        run(args.host, "systemctl start cadvisor", check=False)
        remove_containers(args.host, args.containers)
    summary = {name: {key: statistics.median(run_[key] for run_ in runs) for key in runs[0]} for name, runs in results.items()}
    load = {"before": load_before, "after": load_average()}
    if args.json:
        print(json.dumps({"containers": args.containers, "window_s": args.window, "binary": binary, "load_average": load,
                          "runs": results, "median": summary}, indent=2))
        return
    print("%s, %d containers; machine load average (1, 5, 15 min) before %s, after %s"
          % (binary, args.containers, " ".join(load["before"]), " ".join(load["after"])))
    for name, values in summary.items():
        print("median %-8s cpu %5.1f%% of a core  rss %5.1f MiB (max %5.1f)  samples per scrape %d"
              % (name, 100 * values["cpu_share"], values["rss_mib_mean"], values["rss_mib_max"], values["series"]))
    cpu_ratio = summary["tuned"]["cpu_share"] / summary["default"]["cpu_share"]
    rss_ratio = summary["tuned"]["rss_mib_mean"] / summary["default"]["rss_mib_mean"]
    print("tuned / default: cpu %.2f  rss %.2f" % (cpu_ratio, rss_ratio))


if __name__ == "__main__":
    main()
