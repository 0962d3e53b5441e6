# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""flat_bridge_switch.py's ip argument building, link restore and command line."""

import json

import pytest

from fakehost import UPLINK_ADDRESS


def test_route_arguments_carry_gateway_metric_protocol_scope_and_source(env):
    route = {"dst": "default", "gateway": "10.0.0.1", "metric": 100, "protocol": "dhcp", "scope": "global",
             "prefsrc": "10.0.0.12", "flags": []}
    assert env.module.route_replace_args("br0", route) == [
        "ip", "-4", "route", "replace", "default", "via", "10.0.0.1", "metric", "100", "proto", "dhcp",
        "scope", "global", "src", "10.0.0.12", "dev", "br0"]


def test_route_arguments_of_a_connected_route(env):
    route = {"dst": "10.0.0.0/16", "protocol": "kernel", "scope": "link", "prefsrc": "10.0.0.12"}
    assert env.module.route_replace_args("eth0", route) == [
        "ip", "-4", "route", "replace", "10.0.0.0/16", "proto", "kernel", "scope", "link", "src", "10.0.0.12", "dev", "eth0"]


@pytest.mark.parametrize("address, expected", [
    (UPLINK_ADDRESS, ["ip", "addr", "add", "10.0.0.12/16", "broadcast", "10.0.255.255", "dev", "eth0"]),
    ({"family": "inet6", "local": "2001:db8::12", "prefixlen": 64}, ["ip", "addr", "add", "2001:db8::12/64", "dev", "eth0"]),
])
def test_address_arguments(env, address, expected):
    assert env.module.address_add_args("eth0", address) == expected


def test_snapshot_keeps_global_addresses_master_and_routes(env):
    env.host.links["eth0"]["master"] = "br0"
    snapshot = env.module.snapshot_link("eth0")
    assert snapshot == {"exists": True, "master": "br0", "addresses": [UPLINK_ADDRESS],
                        "routes": env.host.links["eth0"]["routes"]}
    assert env.module.snapshot_link("nope") == {"exists": False}


def test_restore_link_removes_foreign_addresses_keeps_right_ones_and_adds_missing(env):
    saved = env.module.snapshot_link("eth0")
    eth0 = env.host.links["eth0"]
    eth0["master"] = "br0"
    eth0["addresses"] = [dict(UPLINK_ADDRESS), {"family": "inet", "local": "172.17.0.1", "prefixlen": 16}]
    eth0["routes"] = []
    env.host.calls.clear()
    env.module.restore_link("eth0", saved)
    assert eth0["master"] is None
    assert eth0["addresses"] == [UPLINK_ADDRESS]
    assert eth0["routes"][0]["gateway"] == "10.0.0.1"
    assert ["ip", "addr", "del", "172.17.0.1/16", "dev", "eth0"] in env.host.calls
    assert not any(c[1:3] == ["addr", "add"] for c in env.host.calls)  # the right address stayed, no gap


def test_restore_link_replaces_an_address_whose_broadcast_changed(env):
    saved = env.module.snapshot_link("eth0")
    env.host.links["eth0"]["addresses"] = [{"family": "inet", "local": "10.0.0.12", "prefixlen": 16}]
    env.module.restore_link("eth0", saved)
    assert env.host.links["eth0"]["addresses"] == [UPLINK_ADDRESS]


def test_restore_link_leaves_a_link_alone_that_did_not_exist(env):
    env.host.calls.clear()
    env.module.restore_link("eth0", {"exists": False})
    assert not env.host.calls


def test_main_prints_one_json_line_and_exits_0(env, capsys):
    assert env.module.main(["switch", "apply", env.state_dir]) == 0
    assert json.loads(capsys.readouterr().out)["awaiting_confirmation"] is True


def test_main_reports_a_restore_as_failure(env, capsys):
    env.host.answering = set()
    assert env.module.main(["switch", "apply", env.state_dir]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True and "restored the previous network configuration" in out["msg"]


def test_main_without_the_roles_settings_says_so(env, tmp_path, capsys):
    assert env.module.main(["switch", "apply", str(tmp_path)]) == 1
    assert "config.json is missing: run the flat_bridge role" in json.loads(capsys.readouterr().out)["msg"]


@pytest.mark.parametrize("argv", [["switch"], ["switch", "apply"], ["switch", "undo", "/x"]])
def test_main_usage(env, argv, capsys):
    assert env.module.main(argv) == 64
    assert "usage:" in capsys.readouterr().err
