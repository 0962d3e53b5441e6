"""A fake docker CLI for the Mesos stand-in's tests: keeps containers as JSON files, runs nothing.

Invoked as ``python3 fake_docker.py <docker arguments>`` through a small wrapper the tests write; the state
lives in $FAKE_DOCKER_DIR (one ``<name>.json`` per container with its argv, network, address and state).
``exec`` exits with the content of $FAKE_DOCKER_DIR/exec-status (0 when missing).
"""

import json
import os
import sys


def save(path, container):
    """Write atomically: the tests read these files while the stand-in's agent runs us."""
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(container, handle)
    os.replace(path + ".tmp", path)


def main(argv):
    state_dir = os.environ["FAKE_DOCKER_DIR"]
    command, args = argv[0], argv[1:]
    with open(os.path.join(state_dir, "calls.log"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(argv) + "\n")
    if command == "run":
        name = args[args.index("--name") + 1]
        network = args[args.index("--net") + 1] if "--net" in args else "bridge"
        for arg in args:
            if arg.startswith("--network="):
                network = arg.split("=", 1)[1]
        count = len([f for f in os.listdir(state_dir) if f.endswith(".json")])
        container = {"argv": argv, "name": name, "network": network, "ip": "172.30.0.%d" % (count + 2),
                     "running": True}
        save(os.path.join(state_dir, name + ".json"), container)
        print("%064x" % count)
        return 0
    if command in ("inspect", "stop", "rm", "exec"):
        name = [a for a in args if not a.startswith("-") and not a.isdigit()][0]
        path = os.path.join(state_dir, name + ".json")
        if not os.path.exists(path):
            sys.stderr.write("Error: No such container: %s\n" % name)
            return 1
        with open(path, encoding="utf-8") as handle:
            container = json.load(handle)
        if command == "inspect":
            ip = "" if container["network"] == "host" else container["ip"]
            print(json.dumps([{"State": {"Running": container["running"],
                                         "Status": "running" if container["running"] else "exited", "ExitCode": 0},
                               "NetworkSettings": {"Networks": {container["network"]: {"IPAddress": ip}}}}]))
        elif command == "stop":
            container["running"] = False
            save(path, container)
        elif command == "rm":
            os.remove(path)
        else:
            status_file = os.path.join(state_dir, "exec-status")
            if os.path.exists(status_file):
                with open(status_file, encoding="utf-8") as handle:
                    return int(handle.read().strip() or 0)
        return 0
    sys.stderr.write("fake docker: unsupported command %s\n" % command)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
