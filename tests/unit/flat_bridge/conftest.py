# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the flat_bridge switch: the script loaded as a module, talking to a FakeHost, with a state
directory laid out as the role writes it (config.json, staged/ with the bridge-mode files)."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fakehost import FakeClock, FakeHost, load_switch  # noqa: E402  pylint: disable=wrong-import-position

STAGED = {
    "40-flat-bridge-br0.netdev": "[NetDev]\nName=br0\nKind=bridge\nMACAddress=02:42:ac:11:00:02\n",
    "40-flat-bridge-br0.network": "[Match]\nName=br0\n[Network]\nAddress=10.0.0.12/16\nGateway=10.0.0.1\n",
    "40-flat-bridge-br0-uplink.network": "[Match]\nName=eth0\n[Network]\nBridge=br0\n",
}
# A file of somebody else's in /etc/systemd/network: the switch must never touch it.
FOREIGN = ("10-lan.link", "[Match]\nOriginalName=eth*\n")


class Env:
    """The switch module, its fake host and the paths the role would use."""

    def __init__(self, tmp_path, monkeypatch):
        self.state_dir = str(tmp_path / "state")
        self.network_dir = str(tmp_path / "network")
        os.makedirs(os.path.join(self.state_dir, "staged"))
        os.makedirs(self.network_dir)
        self.write(os.path.join(self.network_dir, FOREIGN[0]), FOREIGN[1])
        self.stage(STAGED)
        self.config = {"bridge": "br0", "uplink": "eth0", "flush_uplink": True, "extra_links": [],
                       "check_targets": ["10.0.0.1"], "check_timeout": 5, "rollback_timeout": 120,
                       "network_dir": self.network_dir}
        self.write_config()
        self.clock = FakeClock()
        self.host = FakeHost(self.network_dir, self.clock)
        self.module = load_switch()
        monkeypatch.setattr(self.module, "run", self.host.run)
        monkeypatch.setattr(self.module, "time", self.clock)

    @staticmethod
    def write(path, text):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def stage(self, files):
        staged = os.path.join(self.state_dir, "staged")
        for name in os.listdir(staged):
            os.unlink(os.path.join(staged, name))
        for name, text in files.items():
            self.write(os.path.join(staged, name), text)

    def write_config(self, **changes):
        self.config.update(changes)
        self.write(os.path.join(self.state_dir, "config.json"), json.dumps(self.config))

    def switch(self):
        return self.module.Switch(self.state_dir)

    def live(self):
        return {name: open(os.path.join(self.network_dir, name), encoding="utf-8").read() for name in sorted(os.listdir(self.network_dir))}

    def state(self, name):
        path = os.path.join(self.state_dir, name)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)


@pytest.fixture(name="env")
def fixture_env(tmp_path, monkeypatch):
    return Env(tmp_path, monkeypatch)
