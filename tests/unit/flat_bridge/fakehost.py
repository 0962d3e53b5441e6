# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake Linux host for flat_bridge_switch.py: links with addresses and routes, systemd-networkd, the restore
timer, ping. It answers exactly the commands the switch runs (ip, systemctl, systemd-run, ping) and fails loudly
on any other, so a new command in the switch needs a matching answer here."""

import importlib.util
import json
import os
import subprocess

SWITCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "flat_bridge", "files", "flat_bridge_switch.py")

UPLINK_ADDRESS = {"family": "inet", "local": "10.0.0.12", "prefixlen": 16, "broadcast": "10.0.255.255"}
DEFAULT_ROUTE = {"dst": "default", "gateway": "10.0.0.1", "protocol": "static", "flags": []}


def load_switch():
    spec = importlib.util.spec_from_file_location("flat_bridge_switch", SWITCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeClock:
    """time.monotonic/time.time/time.sleep for the switch: sleeping advances the clock at once."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeHost:
    """links: name -> {"master", "addresses", "routes"}. networkd, when (re)started, reads the bridge's staged
    networkd files the way the role writes them (a netdev file creates the bridge; "Address=" and "Gateway=" in
    its .network file give the bridge its address and default route; "Bridge=" in the uplink's makes it a port)."""

    def __init__(self, network_dir, clock, bridge="br0", uplink="eth0"):
        self.network_dir = network_dir
        self.clock = clock
        self.bridge = bridge
        self.uplink = uplink
        self.links = {uplink: {"master": None, "addresses": [dict(UPLINK_ADDRESS)], "routes": [dict(DEFAULT_ROUTE)]}}
        self.networkd = {"active": False, "enabled": False}
        self.answering = {"10.0.0.1"}
        self.pings = []
        self.timer_armed = False
        self.calls = []
        self.ifreloads = 0
        self.ifreload_fails = False

    # what networkd would do with the files in network_dir ----------------------------------------------------
    def files(self):
        if not os.path.isdir(self.network_dir):
            return {}
        return {name: open(os.path.join(self.network_dir, name), encoding="utf-8").read() for name in os.listdir(self.network_dir)}

    def networkd_start(self, ifupdown2=False):
        """Configure the links from the files: networkd's (key=value) or, for ifupdown2, the same keys written as
        "key value" lines under "iface NAME" (the tests' stand-in for the role's stanzas)."""
        if not ifupdown2:
            self.networkd["active"] = True
        for name, text in sorted(self.files().items()):
            settings = self.settings(text, ifupdown2)
            if settings.get("Kind") == "bridge" and (ifupdown2 or name.endswith(".netdev")):
                self.links.setdefault(settings["Name"], {"master": None, "addresses": [], "routes": []})
        for name, text in sorted(self.files().items()):
            settings = self.settings(text, ifupdown2)
            link = self.links.get(settings.get("Name", ""))
            if not (ifupdown2 or name.endswith(".network")) or link is None:
                continue
            if "Bridge" in settings:
                link["master"] = settings["Bridge"]
            if "Ports" in settings:
                self.links[settings["Ports"]]["master"] = settings["Name"]
            if "Address" in settings:
                local, prefix = settings["Address"].split("/")
                address = {"family": "inet", "local": local, "prefixlen": int(prefix)}
                if address not in link["addresses"]:
                    link["addresses"].append(address)
            if "Gateway" in settings:
                for other in self.links.values():
                    other["routes"] = [r for r in other["routes"] if r["dst"] != "default"]
                link["routes"].append({"dst": "default", "gateway": settings["Gateway"], "protocol": "static"})

    @staticmethod
    def settings(text, ifupdown2):
        pairs = [line.strip().split(" " if ifupdown2 else "=", 1) for line in text.splitlines()]
        return dict(pair for pair in pairs if len(pair) == 2)

    # the commands ----------------------------------------------------------------------------------------------
    def run(self, *args, check=True):
        self.calls.append(list(args))
        rc, out = self.answer(list(args))
        if check and rc != 0:
            raise RuntimeError("%s failed: fake" % " ".join(args))
        return subprocess.CompletedProcess(list(args), rc, out, "")

    def answer(self, args):
        handlers = {"ip": self.ip, "systemctl": self.systemctl, "systemd-run": self.systemd_run, "ping": self.ping,
                    "ifreload": self.ifreload}
        if args[0] not in handlers:
            raise AssertionError("the switch ran an unexpected command: %s" % args)
        return handlers[args[0]](args)

    def ip(self, args):
        dev = args[args.index("dev") + 1] if "dev" in args else None
        link = self.links.get(dev)
        if args[1:3] == ["link", "show"]:
            return (0 if link else 1), ""
        if link is None:
            return 1, ""
        if args[1:4] == ["-json", "addr", "show"]:
            info = [dict(a, scope="global") for a in link["addresses"]] + [{"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]
            entry = {"ifname": dev, "addr_info": info}
            if link["master"]:
                entry["master"] = link["master"]
            return 0, json.dumps([entry])
        if args[1:5] == ["-json", "-4", "route", "show"]:
            return 0, json.dumps(link["routes"])
        if args[1:3] == ["link", "set"]:
            if "nomaster" in args:
                link["master"] = None
            return 0, ""
        if args[1:3] == ["link", "del"]:
            del self.links[dev]
            return 0, ""
        if args[2:4] == ["addr", "flush"]:
            family = "inet" if args[1] == "-4" else "inet6"
            link["addresses"] = [a for a in link["addresses"] if a["family"] != family]
            return 0, ""
        if args[1:3] == ["addr", "del"]:
            link["addresses"] = [a for a in link["addresses"] if "%s/%s" % (a["local"], a["prefixlen"]) != args[3]]
            return 0, ""
        if args[1:3] == ["addr", "add"]:
            local, prefix = args[3].split("/")
            address = {"family": "inet", "local": local, "prefixlen": int(prefix)}
            if "broadcast" in args:
                address["broadcast"] = args[args.index("broadcast") + 1]
            link["addresses"].append(address)
            return 0, ""
        if args[1:4] == ["-4", "route", "replace"]:
            route = {"dst": args[4]}
            for word, key in (("via", "gateway"), ("metric", "metric"), ("proto", "protocol")):
                if word in args:
                    route[key] = args[args.index(word) + 1]
            for other in self.links.values():
                other["routes"] = [r for r in other["routes"] if r["dst"] != route["dst"]]
            link["routes"].append(route)
            return 0, ""
        raise AssertionError("unexpected ip command: %s" % args)

    def systemctl(self, args):
        verb, unit = args[1], args[2] if len(args) > 2 else ""
        if unit.startswith("systemd-networkd"):
            if verb == "is-active":
                return (0 if self.networkd["active"] else 3), "active" if self.networkd["active"] else "inactive"
            if verb == "is-enabled":
                return (0 if self.networkd["enabled"] else 1), "enabled" if self.networkd["enabled"] else "disabled"
            if verb == "enable":
                self.networkd["enabled"] = True
            elif verb == "disable":
                self.networkd["enabled"] = False
            elif verb == "restart":
                self.networkd_start()
            elif verb == "stop":
                self.networkd["active"] = False
            return 0, ""
        if unit.startswith("flat-bridge-rollback-") and verb == "stop":
            if unit.endswith(".timer"):
                self.timer_armed = False
            return 0, ""
        if unit == "networking.service" and verb in ("is-active", "is-enabled"):
            return 3, "inactive"  # ifupdown2's oneshot, installed but not started since
        if verb == "reset-failed":
            return 0, ""
        raise AssertionError("unexpected systemctl command: %s" % args)

    def ifreload(self, args):
        """ifupdown2: configures what the files declare, takes down the bridge when no file declares it any more."""
        assert args == ["ifreload", "-a"], args
        self.ifreloads += 1
        if self.ifreload_fails:
            return 1, ""
        if not any("iface %s" % self.bridge in text for text in self.files().values()) and self.bridge in self.links:
            del self.links[self.bridge]
            self.links[self.uplink]["master"] = None
        self.networkd_start(ifupdown2=True)
        return 0, ""

    def systemd_run(self, args):
        assert "--unit" in args and args[-2] == "rollback", args
        self.timer_armed = True
        return 0, ""

    def ping(self, args):
        target = args[-1]
        self.pings.append(target)
        self.clock.sleep(1)
        return (0 if target in self.answering else 1), ""

    # what the tests look at ------------------------------------------------------------------------------------
    def default_gateway(self):
        for link in self.links.values():
            for route in link["routes"]:
                if route["dst"] == "default":
                    return route["gateway"]
        return None
