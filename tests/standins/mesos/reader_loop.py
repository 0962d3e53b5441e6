"""A client that keeps reading ZooKeeper and the Mesos leader while the cluster is changed (tests only).

Runs until --seconds pass or the file --stop exists; every --interval it makes two requests, counting the
failed ones: read the leading master's node through one ZooKeeper session (as Mesos clients do; the session
may move to another server, as real clients' sessions do), and GET /master/state from the leading master,
which must name a leader. With --marathon-app URL (credentials in $READER_MARATHON_AUTH as user:password) a
third request reads that Marathon app, which must have all its instances running. Prints and writes (--out)
a JSON summary: requests, failed, errors.
"""

import base64

import argparse
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkclient  # noqa: E402  pylint: disable=wrong-import-position

LEADER_PREFIX = "json.info_"


def read_leader(client, path):
    node, data = zkclient.lowest_child(client, path, LEADER_PREFIX)
    if not node:
        raise RuntimeError("no master in %s" % path)
    return json.loads(data.decode("utf-8"))


def read_app(url):
    """The app must answer and have every instance running."""
    request = urllib.request.Request(url)
    auth = os.environ.get("READER_MARATHON_AUTH")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii"))
    with urllib.request.urlopen(request, timeout=5) as response:
        app = json.load(response)["app"]
    if app["tasksRunning"] < app["instances"]:
        raise RuntimeError("%s: %d of %d instances running" % (app["id"], app["tasksRunning"], app["instances"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Count failed reads of ZooKeeper and the Mesos leader (tests only).")
    parser.add_argument("--zk", required=True, help="zk://host:port,.../path of the masters")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--stop", default="/run/reader-loop.stop")
    parser.add_argument("--out", default="/run/reader-loop.json")
    parser.add_argument("--marathon-app", default=None, help="http://host:port/v2/apps/<id> to read as well")
    args = parser.parse_args(argv)
    hosts, path = zkclient.parse_zk_url(args.zk)
    client = zkclient.ZooKeeperClient(hosts).start()
    summary = {"requests": 0, "failed": 0, "errors": [], "leaders": [], "finished": False}
    deadline = time.monotonic() + args.seconds
    leader = None
    while time.monotonic() < deadline and not os.path.exists(args.stop):
        summary["requests"] += 1
        try:
            leader = read_leader(client, path)
            if leader["pid"] not in summary["leaders"]:
                summary["leaders"].append(leader["pid"])
        except Exception as exc:  # pylint: disable=broad-except
            summary["failed"] += 1
            summary["errors"].append("zookeeper: %s" % exc)
        if leader:
            summary["requests"] += 1
            url = "http://%s:%d/master/state" % (leader["hostname"], leader["port"])
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if not json.load(response).get("leader"):
                        raise RuntimeError("no leader in %s" % url)
            except Exception as exc:  # pylint: disable=broad-except
                summary["failed"] += 1
                summary["errors"].append("mesos: %s" % exc)
        if args.marathon_app:
            summary["requests"] += 1
            try:
                read_app(args.marathon_app)
            except Exception as exc:  # pylint: disable=broad-except
                summary["failed"] += 1
                summary["errors"].append("marathon: %s" % exc)
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(summary, handle)
        time.sleep(args.interval)
    client.close()
    summary["finished"] = True
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(summary, handle)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
