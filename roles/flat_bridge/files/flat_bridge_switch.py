# Switches a host's network to the configuration the flat_bridge role staged, without ever cutting it off.
#
#   python3 flat_bridge_switch.py apply   STATE_DIR   install the staged network files in one step, check that
#                                                     the check targets answer; restore at once when they do not
#   python3 flat_bridge_switch.py confirm STATE_DIR   keep the change (run by Ansible over a new connection)
#   python3 flat_bridge_switch.py rollback STATE_DIR  restore the configuration from before the last apply
#   python3 flat_bridge_switch.py pending STATE_DIR   only say whether apply would change anything (read-only)
#
# The files are systemd-networkd's (backend "networkd", applied by restarting it) or ifupdown2's (backend
# "ifupdown2", one file in /etc/network/interfaces.d, applied by "ifreload -a").
# Before it changes anything, apply saves the live files and the addresses and routes of the uplink and the
# bridge, and arms a transient systemd timer that runs "rollback" after rollback_timeout seconds. Only
# "confirm" disarms it: if the change cuts the controller off, or this process dies half-way, the host restores
# its previous configuration by itself. STATE_DIR holds config.json and staged/ (written by the role),
# installed.json (the files of the last confirmed change), rollback/ (while a change awaits confirmation) and
# last-rollback.json (why and when the last restore happened). Output is one JSON line; exit 0 on success.
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time


def run(*args, check=True):
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(args), result.stderr.strip()))
    return result


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def link_exists(name):
    return name and run("ip", "link", "show", "dev", name, check=False).returncode == 0


def snapshot_link(name):
    """Addresses, master and IPv4 routes of one link, as ip -json reports them."""
    if not link_exists(name):
        return {"exists": False}
    link = json.loads(run("ip", "-json", "addr", "show", "dev", name).stdout)[0]
    routes = json.loads(run("ip", "-json", "-4", "route", "show", "table", "main", "dev", name).stdout or "[]")
    addresses = [{key: a[key] for key in ("family", "local", "prefixlen", "broadcast") if key in a}
                 for a in link.get("addr_info", []) if a.get("scope") == "global"]
    return {"exists": True, "master": link.get("master"), "addresses": addresses, "routes": routes}


def address_key(address):
    return "%s/%s" % (address["local"], address["prefixlen"])


def address_add_args(name, address):
    """ip arguments that put one saved address (ip -json addr_info entry) back on a link."""
    brd = ["broadcast", address["broadcast"]] if "broadcast" in address else []
    return ["ip", "addr", "add", address_key(address)] + brd + ["dev", name]


def route_replace_args(name, route):
    """ip arguments that put one saved IPv4 route (ip -json route entry) back on a link."""
    args = ["ip", "-4", "route", "replace", route["dst"]]
    for key, word in (("gateway", "via"), ("metric", "metric"), ("protocol", "proto"), ("scope", "scope"), ("prefsrc", "src")):
        if key in route:
            args += [word, str(route[key])]
    return args + ["dev", name]


def restore_link(name, saved):
    """Make a link carry exactly the saved global addresses and at least the saved IPv4 routes."""
    if not saved.get("exists") or not link_exists(name):
        return
    if not saved.get("master"):
        run("ip", "link", "set", "dev", name, "nomaster", check=False)
    run("ip", "link", "set", "dev", name, "up", check=False)
    wanted = {address_key(a): a for a in saved["addresses"]}
    present = set()
    for address in snapshot_link(name)["addresses"]:
        if wanted.get(address_key(address)) == address:
            present.add(address_key(address))
        else:
            run("ip", "addr", "del", address_key(address), "dev", name, check=False)
    for key, address in sorted(wanted.items()):
        if key not in present:
            run(*address_add_args(name, address), check=False)
    for route in saved["routes"]:
        run(*route_replace_args(name, route), check=False)


def unit_state(unit):
    active = run("systemctl", "is-active", unit, check=False).stdout.strip() == "active"
    enabled = run("systemctl", "is-enabled", unit, check=False).stdout.strip() == "enabled"
    return {"active": active, "enabled": enabled}


def reachable(targets, timeout):
    """True when every target answers a ping before the deadline."""
    deadline = time.monotonic() + timeout
    pending = list(targets)
    while True:
        pending = [t for t in pending if run("ping", "-c", "1", "-W", "1", t, check=False).returncode != 0]
        if not pending or time.monotonic() >= deadline:
            return not pending, pending
        time.sleep(0.5)


class Switch:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.config = read_json(os.path.join(state_dir, "config.json"))
        if self.config is None:
            raise RuntimeError("%s/config.json is missing: run the flat_bridge role" % state_dir)
        self.staged_dir = os.path.join(state_dir, "staged")
        self.rollback_dir = os.path.join(state_dir, "rollback")
        self.network_dir = self.config["network_dir"]
        self.timer = "flat-bridge-rollback-%s" % self.config["bridge"]

    # files -----------------------------------------------------------------------------------------------
    def staged(self):
        return {name: read_bytes(os.path.join(self.staged_dir, name)) for name in sorted(os.listdir(self.staged_dir))}

    def managed_names(self):
        installed = read_json(os.path.join(self.state_dir, "installed.json"), {"files": []})["files"]
        return sorted(set(installed) | set(os.listdir(self.staged_dir)))

    def plan(self):
        """The files apply would change: name -> new content, or None for a file to remove (no longer staged)."""
        staged = self.staged()
        return {name: staged.get(name) for name in self.managed_names()
                if read_bytes(os.path.join(self.network_dir, name)) != staged.get(name)}

    def install(self, files):
        """files: name -> bytes, or None for 'must not exist'."""
        os.makedirs(self.network_dir, exist_ok=True)
        for name, content in files.items():
            path = os.path.join(self.network_dir, name)
            if content is None:
                if os.path.exists(path):
                    os.unlink(path)
                continue
            with open(path + ".tmp", "wb") as handle:
                handle.write(content)
            os.chmod(path + ".tmp", 0o644)
            os.replace(path + ".tmp", path)

    # timer -------------------------------------------------------------------------------------------------
    def disarm(self):
        for suffix in (".timer", ".service"):
            run("systemctl", "stop", self.timer + suffix, check=False)
        run("systemctl", "reset-failed", self.timer + ".timer", self.timer + ".service", check=False)

    def arm(self):
        self.disarm()
        run("systemd-run", "--unit", self.timer, "--on-active=%ds" % self.config["rollback_timeout"],
            "--timer-property=AccuracySec=1s", "--description=flat_bridge: restore the network unless confirmed",
            sys.executable, os.path.abspath(__file__), "rollback", self.state_dir)

    # backend -----------------------------------------------------------------------------------------------
    def backend(self):
        return self.config.get("backend", "networkd")

    def service(self):
        return BACKEND_SERVICES[self.backend()]

    def backend_ready(self):
        # networking.service (ifupdown2) is a oneshot that ifreload does not start: only networkd must run.
        return self.backend() != "networkd" or unit_state(self.service())["active"]

    def reload_backend(self):
        if self.backend() == "ifupdown2":
            os.makedirs(IFUPDOWN2_RUN_DIR, exist_ok=True)  # its lock lives there; only networking.service creates it
            run("ifreload", "-a")
        else:
            run("systemctl", "enable", "systemd-networkd.service")
            run("systemctl", "restart", "systemd-networkd.service")

    def restore_backend(self, was):
        if self.backend() == "ifupdown2":
            # Brings down what the restored files no longer declare (our bridge) and re-applies the rest.
            run("ifreload", "-a", check=False)
            return
        if was["active"]:
            run("systemctl", "restart", "systemd-networkd.service", check=False)
        else:
            run("systemctl", "stop", "systemd-networkd.service", "systemd-networkd.socket", check=False)
        if not was["enabled"]:
            run("systemctl", "disable", "systemd-networkd.service", check=False)

    def flush_uplink(self):
        uplink = self.config.get("uplink")
        if uplink and self.config.get("flush_uplink"):
            # networkd makes the uplink a port but leaves the address it had; the bridge carries it now.
            for family in ("-4", "-6"):
                run("ip", family, "addr", "flush", "dev", uplink, "scope", "global", check=False)

    def links(self):
        return [name for name in [self.config["bridge"], self.config.get("uplink")] + self.config.get("extra_links", []) if name]

    # commands ----------------------------------------------------------------------------------------------
    def in_place(self):
        """True when the live configuration is the staged one and applied: apply would change nothing."""
        return not self.plan() and self.backend_ready() and link_exists(self.config["bridge"])

    def installed_elsewhere(self):
        """The other backend's directory the bridge was installed into, or None."""
        installed = read_json(os.path.join(self.state_dir, "installed.json"), {}).get("network_dir", self.network_dir)
        return installed if installed != self.network_dir else None

    def pending(self):
        # Anything apply would act on, its refusals included, counts as pending: apply then says what it is.
        waiting = os.path.isdir(self.rollback_dir) or self.installed_elsewhere() is not None or not self.in_place()
        return {"changed": False, "pending": waiting,
                "msg": "apply would change the network" if waiting else "the bridge's configuration is already in place"}

    def apply(self):
        if os.path.isdir(self.rollback_dir):
            # An earlier apply was neither confirmed nor restored yet (its process died): restore first.
            self.rollback("an unconfirmed earlier change was pending")
        elsewhere = self.installed_elsewhere()
        if elsewhere is not None:
            raise RuntimeError("%s was installed into %s, another backend's directory; moving a bridge between backends is not "
                               "supported: remove it (rollback or by hand) first" % (self.config["bridge"], elsewhere))
        if self.in_place():
            return {"changed": False, "msg": "the bridge's configuration is already in place"}

        os.makedirs(os.path.join(self.rollback_dir, "files"))
        saved_files = []
        for name in self.managed_names():
            live = os.path.join(self.network_dir, name)
            if os.path.exists(live):
                shutil.copy2(live, os.path.join(self.rollback_dir, "files", name))
                saved_files.append(name)
        write_json(os.path.join(self.rollback_dir, "snapshot.json"), {
            "managed": self.managed_names(),
            "saved": saved_files,
            "service": unit_state(self.service()),
            "links": {name: snapshot_link(name) for name in self.links()},
            "time": time.time(),
        })
        self.arm()

        staged = self.staged()
        try:
            self.install({name: staged.get(name) for name in self.managed_names()})
            self.reload_backend()
            self.flush_uplink()
        except (RuntimeError, OSError) as error:
            reason = "the change itself failed: %s" % error
            self.rollback(reason)
            raise RuntimeError("restored the previous network configuration: " + reason) from error
        ok, failed = reachable(self.config["check_targets"], self.config["check_timeout"])
        if not ok:
            reason = "%s did not answer within %ss after the change" % (", ".join(failed), self.config["check_timeout"])
            self.rollback(reason)
            raise RuntimeError("restored the previous network configuration: " + reason)
        return {"changed": True, "awaiting_confirmation": True,
                "msg": "applied; awaiting confirmation within %ss" % self.config["rollback_timeout"]}

    def confirm(self):
        if not os.path.isdir(self.rollback_dir):
            last = read_json(os.path.join(self.state_dir, "last-rollback.json"))
            if last and time.time() - last["time"] < self.config["rollback_timeout"] + 60:
                raise RuntimeError("too late: the change was already restored (%s)" % last["reason"])
            return {"changed": False, "msg": "nothing awaits confirmation"}
        self.disarm()
        write_json(os.path.join(self.state_dir, "installed.json"),
                   {"files": sorted(os.listdir(self.staged_dir)), "network_dir": self.network_dir})
        shutil.rmtree(self.rollback_dir)
        return {"changed": True, "msg": "confirmed"}

    def rollback(self, reason="not confirmed in time"):
        snapshot = read_json(os.path.join(self.rollback_dir, "snapshot.json"))
        if snapshot is None:
            shutil.rmtree(self.rollback_dir, ignore_errors=True)
            return {"changed": False, "msg": "nothing to restore"}
        saved = os.path.join(self.rollback_dir, "files")
        self.install({name: read_bytes(os.path.join(saved, name)) if name in snapshot["saved"] else None
                      for name in snapshot["managed"]})
        links = snapshot["links"]
        bridge = self.config["bridge"]
        if not links.get(bridge, {}).get("exists"):
            run("ip", "link", "del", "dev", bridge, check=False)
        for name in self.config.get("extra_links", []):
            if not links.get(name, {}).get("exists"):
                run("ip", "link", "del", "dev", name, check=False)
        self.restore_backend(snapshot.get("service") or snapshot["networkd"])  # "networkd": written by older versions
        # The backend has reapplied the old files; make the links carry what they had, in any case.
        for name, link in links.items():
            restore_link(name, link)
        write_json(os.path.join(self.state_dir, "last-rollback.json"), {"reason": reason, "time": time.time()})
        shutil.rmtree(self.rollback_dir)
        # Stop only the timer: when the timer's own service runs this, stopping the service would kill it.
        run("systemctl", "stop", self.timer + ".timer", check=False)
        return {"changed": True, "msg": "restored the previous network configuration: " + reason}


IFUPDOWN2_RUN_DIR = "/run/network"
BACKEND_SERVICES = {"networkd": "systemd-networkd.service", "ifupdown2": "networking.service"}


def main(argv):
    if len(argv) != 3 or argv[1] not in ("apply", "confirm", "rollback", "pending"):
        sys.stderr.write("usage: flat_bridge_switch.py apply|confirm|rollback|pending STATE_DIR\n")
        return 64
    try:
        switch = Switch(argv[2])
        with open(os.path.join(argv[2], "lock"), "w", encoding="utf-8") as lock:
            # One switch at a time: the timer's rollback waits for a running apply or confirm.
            fcntl.flock(lock, fcntl.LOCK_EX)
            result = getattr(switch, argv[1])()
    except RuntimeError as error:
        print(json.dumps({"failed": True, "msg": str(error)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
