# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""flat_bridge_switch.py apply/confirm/rollback on a fake host: the change happens in one step behind an armed
restore timer; a gateway that does not answer brings the previous configuration back at once; an unconfirmed
change is undone by the timer; a confirmation after that is refused."""

import os

import pytest

from conftest import FOREIGN, STAGED
from fakehost import DEFAULT_ROUTE, UPLINK_ADDRESS


def bare_host_before(env):
    return {"live": env.live(), "links": sorted(env.host.links), "eth0": dict(env.host.links["eth0"]), "networkd": dict(env.host.networkd)}


def test_plan_of_a_first_run_is_every_staged_file(env):
    assert env.switch().plan() == {name: text.encode() for name, text in STAGED.items()}


def test_plan_removes_a_file_no_longer_staged_and_skips_unchanged_ones(env):
    for name, text in STAGED.items():
        env.write(os.path.join(env.network_dir, name), text)
    env.write(os.path.join(env.state_dir, "installed.json"), '{"files": %s}' % list(STAGED).__repr__().replace("'", '"'))
    staged = dict(STAGED)
    del staged["40-flat-bridge-br0-uplink.network"]
    staged["40-flat-bridge-br0.network"] = STAGED["40-flat-bridge-br0.network"].replace("10.0.0.1", "10.0.0.254")
    env.stage(staged)
    assert env.switch().plan() == {
        "40-flat-bridge-br0-uplink.network": None,
        "40-flat-bridge-br0.network": staged["40-flat-bridge-br0.network"].encode(),
    }


def test_apply_arms_the_timer_before_it_touches_anything(env):
    result = env.switch().apply()
    assert result["changed"] and result["awaiting_confirmation"]
    calls = [" ".join(c) for c in env.host.calls]
    armed = next(i for i, c in enumerate(calls) if c.startswith("systemd-run"))
    restarted = calls.index("systemctl restart systemd-networkd.service")
    assert armed < restarted
    assert "--on-active=120s" in calls[armed]
    assert env.host.timer_armed


def test_apply_makes_the_bridge_carry_the_uplinks_address_and_route(env):
    env.switch().apply()
    bridge, eth0 = env.host.links["br0"], env.host.links["eth0"]
    assert eth0["master"] == "br0"
    assert eth0["addresses"] == []  # flushed: the bridge carries the address now
    assert [a["local"] for a in bridge["addresses"]] == ["10.0.0.12"]
    assert env.host.default_gateway() == "10.0.0.1"
    assert env.live() == dict(STAGED, **{FOREIGN[0]: FOREIGN[1]})
    assert env.host.pings == ["10.0.0.1"]


def test_apply_keeps_the_uplink_address_when_told_not_to_flush(env):
    env.write_config(flush_uplink=False)
    env.switch().apply()
    assert env.host.links["eth0"]["addresses"] == [UPLINK_ADDRESS]


def test_confirm_disarms_the_timer_and_records_the_installed_files(env):
    env.switch().apply()
    assert env.switch().confirm() == {"changed": True, "msg": "confirmed"}
    assert not env.host.timer_armed
    assert env.state("installed.json") == {"files": sorted(STAGED), "network_dir": env.network_dir}
    assert not os.path.exists(os.path.join(env.state_dir, "rollback"))


def test_a_second_apply_changes_nothing(env):
    env.switch().apply()
    env.switch().confirm()
    env.host.calls.clear()
    assert env.switch().apply()["changed"] is False
    assert not any(c[0] in ("systemd-run", "ping") or c[1] == "restart" for c in env.host.calls)


def test_a_wrong_gateway_restores_everything_at_once(env):
    before = bare_host_before(env)
    env.stage(dict(STAGED, **{"40-flat-bridge-br0.network": STAGED["40-flat-bridge-br0.network"].replace("10.0.0.1", "10.0.0.254")}))
    env.write_config(check_targets=["10.0.0.254"])
    with pytest.raises(RuntimeError, match=r"restored the previous network configuration: 10\.0\.0\.254 did not answer within 5s"):
        env.switch().apply()
    assert env.live() == before["live"]  # our files gone, the foreign one untouched
    assert sorted(env.host.links) == before["links"]  # the bridge that did not exist before is deleted
    assert env.host.links["eth0"]["master"] is None
    assert env.host.links["eth0"]["addresses"] == [UPLINK_ADDRESS]
    assert env.host.links["eth0"]["routes"][0]["gateway"] == DEFAULT_ROUTE["gateway"]
    assert env.host.networkd == before["networkd"]  # networkd was not running: stopped and disabled again
    assert not env.host.timer_armed
    assert env.state("last-rollback.json")["reason"] == "10.0.0.254 did not answer within 5s after the change"
    assert env.state("installed.json") is None


def test_the_check_waits_for_a_slow_gateway(env):
    env.host.answering = set()
    real_ping = env.host.ping

    def ping_answering_from_the_third(args):
        if len(env.host.pings) == 2:
            env.host.answering.add("10.0.0.1")
        return real_ping(args)

    env.host.ping = ping_answering_from_the_third
    assert env.switch().apply()["awaiting_confirmation"]
    assert env.host.pings == ["10.0.0.1"] * 3


def test_the_check_gives_up_at_the_deadline(env, monkeypatch):
    monkeypatch.setattr(env.host, "answering", set())
    with pytest.raises(RuntimeError, match="did not answer within 5s"):
        env.switch().apply()
    # one ping (1 s) and a 0.5 s pause per round until 5 s have passed
    assert len(env.host.pings) == 4


def test_every_check_target_must_answer(env):
    env.write_config(check_targets=["10.0.0.1", "10.0.0.53"])
    with pytest.raises(RuntimeError, match=r"restored.*: 10\.0\.0\.53 did not answer"):
        env.switch().apply()


def test_the_timer_restores_an_unconfirmed_change_and_a_late_confirm_is_refused(env):
    env.switch().apply()
    env.clock.sleep(120)
    result = env.switch().rollback()  # what the timer's service runs
    assert result["changed"] and result["msg"].endswith("not confirmed in time")
    assert env.host.links["eth0"]["addresses"] == [UPLINK_ADDRESS]
    assert "br0" not in env.host.links
    with pytest.raises(RuntimeError, match=r"too late: the change was already restored \(not confirmed in time\)"):
        env.switch().confirm()


def test_a_confirm_long_after_a_restore_is_no_error(env):
    env.switch().apply()
    env.switch().rollback()
    env.clock.sleep(3600)
    assert env.switch().confirm() == {"changed": False, "msg": "nothing awaits confirmation"}


def test_the_timer_after_a_confirm_finds_nothing_to_restore(env):
    env.switch().apply()
    env.switch().confirm()
    assert env.switch().rollback() == {"changed": False, "msg": "nothing to restore"}
    assert "br0" in env.host.links


def test_an_apply_after_a_crashed_one_restores_first(env):
    env.switch().apply()  # never confirmed, and the timer did not run yet (its process died)
    env.stage(dict(STAGED, **{"40-flat-bridge-br0.network": STAGED["40-flat-bridge-br0.network"].replace("10.0.0.12/16", "10.0.0.13/16")}))
    restarts_before = env.host.calls.count(["systemctl", "restart", "systemd-networkd.service"])
    result = env.switch().apply()
    assert result["awaiting_confirmation"]
    assert env.state("last-rollback.json")["reason"] == "an unconfirmed earlier change was pending"
    assert env.host.calls.count(["systemctl", "restart", "systemd-networkd.service"]) == restarts_before + 1
    assert [a["local"] for a in env.host.links["br0"]["addresses"]] == ["10.0.0.13"]


def test_a_restore_of_a_confirmed_bridge_puts_the_old_files_back(env):
    env.switch().apply()
    env.switch().confirm()
    confirmed = env.live()
    env.stage(dict(STAGED, **{"40-flat-bridge-br0.network": STAGED["40-flat-bridge-br0.network"].replace("10.0.0.1", "10.0.0.254")}))
    env.write_config(check_targets=["10.0.0.254"])
    with pytest.raises(RuntimeError):
        env.switch().apply()
    assert env.live() == confirmed
    assert "br0" in env.host.links  # it existed before this change: kept
    assert env.host.networkd["active"]
    assert env.host.default_gateway() == "10.0.0.1"


def test_vxlan_links_that_did_not_exist_are_removed_on_restore(env):
    env.host.links["br0-vx"] = {"master": None, "addresses": [], "routes": []}  # created by networkd during apply
    env.write_config(extra_links=["br0-vx"], uplink=None, flush_uplink=False, check_targets=["10.9.9.9"])
    del env.host.links["br0-vx"]
    real_start = env.host.networkd_start

    def start_with_tunnel():
        real_start()
        env.host.links.setdefault("br0-vx", {"master": "br0", "addresses": [], "routes": []})

    env.host.networkd_start = start_with_tunnel
    with pytest.raises(RuntimeError):
        env.switch().apply()
    assert "br0-vx" not in env.host.links and "br0" not in env.host.links


IFUPDOWN2_STAGED = {"flat-bridge-br0": "auto br0\niface br0\nName br0\nKind bridge\nPorts eth0\nAddress 10.0.0.12/16\nGateway 10.0.0.1\n"}


@pytest.fixture(name="ifupdown2")
def fixture_ifupdown2(env, tmp_path, monkeypatch):
    monkeypatch.setattr(env.module, "IFUPDOWN2_RUN_DIR", str(tmp_path / "run-network"))
    env.network_dir = str(tmp_path / "interfaces.d")
    os.mkdir(env.network_dir)
    env.host.network_dir = env.network_dir
    env.stage(IFUPDOWN2_STAGED)
    env.write_config(backend="ifupdown2", network_dir=env.network_dir)
    return env


def test_ifupdown2_applies_with_ifreload_and_leaves_networkd_alone(ifupdown2):
    env = ifupdown2
    assert env.switch().apply()["awaiting_confirmation"]
    assert env.host.ifreloads == 1
    assert os.path.isdir(env.module.IFUPDOWN2_RUN_DIR)
    assert env.host.networkd == {"active": False, "enabled": False}
    assert env.host.links["eth0"]["master"] == "br0" and env.host.links["eth0"]["addresses"] == []
    env.switch().confirm()
    assert env.state("installed.json") == {"files": ["flat-bridge-br0"], "network_dir": env.network_dir}
    assert env.switch().apply()["changed"] is False  # networking.service need not be active


def test_ifupdown2_restore_reloads_without_the_bridge(ifupdown2):
    env = ifupdown2
    env.write_config(check_targets=["10.0.0.254"])
    with pytest.raises(RuntimeError, match="10.0.0.254 did not answer"):
        env.switch().apply()
    assert env.host.ifreloads == 2
    assert "br0" not in env.host.links
    assert env.host.links["eth0"]["master"] is None and env.host.links["eth0"]["addresses"] == [UPLINK_ADDRESS]
    assert env.host.default_gateway() == DEFAULT_ROUTE["gateway"]
    assert env.live() == {}


def test_a_failing_ifreload_restores_at_once(ifupdown2):
    env = ifupdown2
    env.host.ifreload_fails = True
    with pytest.raises(RuntimeError, match=r"restored the previous network configuration: the change itself failed: ifreload -a failed"):
        env.switch().apply()
    assert not env.host.timer_armed and env.live() == {}
    assert env.host.links["eth0"]["addresses"] == [UPLINK_ADDRESS]


def test_moving_a_bridge_to_another_backend_is_refused(env, tmp_path):
    env.switch().apply()
    env.switch().confirm()
    env.write_config(backend="ifupdown2", network_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="another backend's directory"):
        env.switch().apply()
    assert "br0" in env.host.links


def test_pending_on_a_first_run_and_not_after_a_confirmed_apply(env):
    assert env.switch().pending()["pending"] is True
    env.switch().apply()
    env.switch().confirm()
    env.host.calls.clear()
    assert env.switch().pending() == {"changed": False, "pending": False,
                                      "msg": "the bridge's configuration is already in place"}
    assert not any(c[0] in ("systemd-run", "ping") or c[1] in ("restart", "stop") for c in env.host.calls)


def test_pending_when_a_staged_file_changed_or_the_bridge_is_gone(env):
    env.switch().apply()
    env.switch().confirm()
    env.stage(dict(STAGED, **{"40-flat-bridge-br0.network": STAGED["40-flat-bridge-br0.network"].replace("10.0.0.1", "10.0.0.254")}))
    assert env.switch().pending()["pending"] is True
    env.stage(STAGED)
    del env.host.links["br0"]
    assert env.switch().pending()["pending"] is True


def test_pending_when_a_change_awaits_confirmation_or_apply_would_refuse(env, tmp_path):
    env.switch().apply()  # not confirmed: apply must first restore it
    assert env.switch().pending()["pending"] is True
    env.switch().confirm()
    env.write_config(backend="ifupdown2", network_dir=str(tmp_path))
    assert env.switch().pending()["pending"] is True  # apply then says why it refuses
