"""Benchmark of ota-agent's apply (run on demand, never part of the timed tests):

  python3 bench/ota_apply.py [--size-mib 1024] [--files 4] [--rounds 3] [--switches 200] [--dir /var/tmp]

1. Throughput: apply a program set of --size-mib MiB (in --files files) from a loopback HTTP server
   (ota-agent serve), side by side with the baseline "curl every file, then md5sum them" (and that baseline plus
   `sync`, since the agent fsyncs what it wrote). Goal: at most 1.1x the baseline's time. Each of --rounds
   rounds runs the baseline, a first install and an update back to back; the medians are reported, with the
   load average, since another process on the machine changes every figure.
2. Peak RSS of the agent process during that apply (getrusage of the child). Goal: at most 32 MiB at any size.
3. Switch time (rename of the `running` link plus the fsync of its directory, the engine's own primitive),
   p50/p99 over --switches switches between the two installed sets, for a 1 MiB set and for the large set.
   Goal: p99 at most 5 ms, the same for both sizes.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
AGENT = REPO / "scripts" / "ota-agent"
sys.path.insert(0, str(REPO / "plugins"))
from module_utils.ota_engine import Engine  # noqa: E402  pylint: disable=wrong-import-position
from module_utils.ota_manifest import make_manifest  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1024 * 1024


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_release(folder, release, sequence, size, files):
    """files programs of size/files bytes each (pseudo-random, so nothing compresses or dedups), a manifest."""
    folder.mkdir(parents=True)
    paths = []
    block = os.urandom(MIB)
    for index in range(files):
        path = folder / ("prog%d.bin" % index)
        with open(path, "wb") as handle:
            left = size // files
            while left > 0:
                chunk = block[:min(MIB, left)]
                handle.write(bytes([index, sequence % 256]) + chunk[2:])
                left -= len(chunk)
        paths.append(str(path))
    doc = make_manifest(paths, release, sequence, sha256=False)
    (folder / "manifest.json").write_text(json.dumps(doc))
    return [os.path.basename(p) for p in paths]


def run_measured(argv):
    """Run argv; returns (seconds, peak RSS in MiB of the process tree's largest member, exit code)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)  # pylint: disable=consider-using-with
    dummy, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss / 1024.0, proc.returncode


def drop_written(root):
    subprocess.run(["sync"], check=True)
    shutil.rmtree(root, ignore_errors=True)


def one_round(work, url, names):
    """(load, baseline s, baseline+sync s, first install s, update s, RSS first, RSS update), all from cold files."""
    load = os.getloadavg()[0]
    # the baseline: curl each file, then md5sum them (the page cache holds the served files for both)
    dest = work / "curl"
    dest.mkdir()
    curl = ["curl", "-sSf"] + sum((["-o", str(dest / n), "%s/big-1/%s" % (url, n)] for n in names), [])
    started = time.monotonic()
    subprocess.run(curl, check=True)
    subprocess.run(["md5sum"] + [str(dest / n) for n in names], check=True, stdout=subprocess.DEVNULL)
    baseline = time.monotonic() - started
    subprocess.run(["sync"], check=True)
    baseline_sync = time.monotonic() - started
    drop_written(dest)
    root = work / "root"
    seconds, rss, code = run_measured([str(AGENT), "--root", str(root), "-q", "apply", url + "/big-1/manifest.json"])
    assert code == 0, "the apply failed (exit %d)" % code
    seconds2, rss2, code = run_measured([str(AGENT), "--root", str(root), "-q", "apply", url + "/big-2/manifest.json"])
    assert code == 0, "the second apply failed (exit %d)" % code
    drop_written(root)
    return load, baseline, baseline_sync, seconds, seconds2, rss, rss2


def switch_times(root, count):
    """p50 and p99 (ms) of count switches of root's `running` link between its two slots, done by the engine's
    own primitive (a new link renamed over the old one, then an fsync of the root directory)."""
    engine = Engine(str(root))
    slots = [engine.slots.link_slot("running"), engine.slots.link_slot("backup")]
    for number in range(count):
        engine.slots.point("running", slots[(number + 1) % 2])
    engine.slots.point("running", slots[0])
    samples = sorted(engine.timings["switch_seconds"][:count])
    return samples[len(samples) // 2] * 1000, samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--switches", type=int, default=200)
    parser.add_argument("--dir", default="/var/tmp", help="scratch directory (on a real disk, not a tmpfs)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *dummy: sys.exit(1))  # so that the server and scratch files go too
    work = pathlib.Path(tempfile.mkdtemp(prefix="ota-bench-", dir=args.dir))
    port = free_port()
    server = subprocess.Popen([str(AGENT), "serve", str(work / "fw"), "--port", str(port), "--bind", "127.0.0.1"],  # pylint: disable=consider-using-with
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        size = args.size_mib * MIB
        url = "http://127.0.0.1:%d" % port
        names = write_release(work / "fw" / "big-1", "big-1", 1, size, args.files)
        write_release(work / "fw" / "big-2", "big-2", 2, size, args.files)
        write_release(work / "fw" / "small-1", "small-1", 1, MIB, 1)
        write_release(work / "fw" / "small-2", "small-2", 2, MIB, 1)
        for dummy in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run(["sync"], check=True)
        print("program set: %d MiB in %d files, loopback HTTP, scratch %s" % (args.size_mib, args.files, work))

        rounds = []
        for number in range(args.rounds):
            rounds.append(one_round(work, url, names))
            print("round %d: load %.1f, baseline %.2f s (+sync %.2f s), first install %.2f s, update %.2f s"
                  % ((number + 1,) + rounds[-1][:5]), flush=True)
        medians = [statistics.median(r[i] for r in rounds) for i in range(7)]
        load, baseline, baseline_sync, seconds, seconds2, rss, rss2 = medians
        print("medians of %d rounds (load average %.1f, %d cores; the ratios are medians of each round's ratios):"
              % (args.rounds, load, os.cpu_count()))
        print("%-44s %8.2f s  %7.1f MiB/s" % ("baseline: curl + md5sum", baseline, args.size_mib / baseline))
        print("%-44s %8.2f s  %7.1f MiB/s" % ("baseline: curl + md5sum + sync", baseline_sync, args.size_mib / baseline_sync))
        for label, secs, col in (("ota-agent apply (first install)", seconds, 3), ("ota-agent apply (update, backup kept)", seconds2, 4)):
            print("%-44s %8.2f s  %7.1f MiB/s  %.2fx baseline, %.2fx baseline+sync" % (
                label, secs, args.size_mib / secs, statistics.median(r[col] / r[1] for r in rounds),
                statistics.median(r[col] / r[2] for r in rounds)))
        print("%-44s %8.1f MiB (first), %.1f MiB (update)" % ("peak RSS of ota-agent", rss, rss2))
        root = work / "root"
        engine = Engine(str(root))
        for release in ("big-1", "big-2"):
            engine.apply(url + "/%s/manifest.json" % release)
        big = switch_times(root, args.switches)
        small_root = work / "small-root"
        for release in ("small-1", "small-2"):
            Engine(str(small_root)).apply(url + "/%s/manifest.json" % release)
        small = switch_times(small_root, args.switches)
        print("%-44s p50 %.3f ms, p99 %.3f ms" % ("switch time, 1 MiB set (%d switches)" % args.switches, small[0], small[1]))
        label = "switch time, %d MiB set (%d switches)" % (args.size_mib, args.switches)
        print("%-44s p50 %.3f ms, p99 %.3f ms" % (label, big[0], big[1]))
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
