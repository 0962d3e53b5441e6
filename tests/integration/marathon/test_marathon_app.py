"""marathon_app (and the shared client: failover, retries, auth) through ansible-playbook against the stand-in (127.0.0.1, random free ports)."""

import json
import shutil
import subprocess
import threading
import time

import pytest

from marathon_it import api, requests_seen, reset_requests, uri

APP = "shepherd.fleet.marathon_app"


def definition(i):
    return {"cmd": "python3 -m http.server $PORT0", "cpus": 0.1, "mem": 32, "instances": 2,
            "env": {"APP": "web-%d" % i}, "labels": {"tier": "web"},
            "constraints": [["rack", "GROUP_BY", "2"], ["hostname", "UNIQUE"]],  # comes back in another order
            "portDefinitions": [{"port": 0, "name": "http"}],  # comes back with an assigned port
            "healthChecks": [{"protocol": "HTTP", "path": "/"}] if i == 0 else []}


def test_create_then_unchanged_costs_exactly_one_get_per_app(standin, playbook):
    apps = [{"id": "/web/web-%d" % i, "definition": definition(i)} for i in range(3)]
    task = {APP: {"url": standin.url, "id": "{{ item.id }}", "definition": "{{ item.definition }}"},
            "loop": apps}
    run = playbook([dict(task, name="create", register="created"),
                    uri(standin, "/_test/requests", "DELETE", status=204, name="reset counter"),
                    dict(task, name="again")], expect_rc=0)
    created, again = run["create"]["results"], run["again"]["results"]
    assert [r["changed"] for r in created] == [True, True, True]
    for result in created:  # waited for: deployment gone, tasks running (and healthy for the checked one)
        assert result["deployment_id"] and result["app"]["deployments"] == []
        assert result["app"]["tasksRunning"] == 2
    assert created[0]["app"]["tasksHealthy"] == 2 and created[1]["app"]["tasksHealthy"] == 0
    assert [r["changed"] for r in again] == [False, False, False]
    assert sorted(requests_seen(standin)) == [("GET", "/v2/apps/web/web-%d" % i, 200) for i in range(3)]
    assert standin.state.deployments == {}


def test_update_scale_restart_absent(standin, playbook):
    base = {"url": [standin.url], "id": "api", "definition": {"cmd": "sleep 1000", "mem": 64, "env": {"A": "1"}}}
    run = playbook([
        {"name": "create", APP: base, "register": "r"},
        uri(standin, "/_test/requests", "DELETE", status=204, name="reset 1"),
        {"name": "update", APP: dict(base, definition=dict(base["definition"], env={"A": "2"}))},
        uri(standin, "/_test/requests", name="requests of the update"),
        {"name": "scale", APP: dict(base, id="/api/", definition=dict(base["definition"], env={"A": "2"}),
                                    instances=3)},
        {"name": "restart", APP: {"url": standin.url, "id": "//api", "state": "restarted"}},
        {"name": "absent", APP: {"url": standin.url, "id": "api", "state": "absent"}},
        {"name": "absent again", APP: {"url": standin.url, "id": "api", "state": "absent"}},
    ], expect_rc=0)
    update = run["update"]
    assert update["changed"] and update["changed_fields"] == ["env"]
    seen = run["requests of the update"]["json"]["requests"]
    assert [r["method"] for r in seen].count("PUT") == 1  # one update, so one deployment
    put = [r for r in seen if r["method"] == "PUT"][0]
    assert put["status"] == 200 and "partialUpdate=true" in put["query"] and "force=false" in put["query"]
    assert any(r["path"] == "/v2/deployments" for r in seen)  # ... which was waited for
    assert update["app"]["env"] == {"A": "2"} and update["app"]["deployments"] == []
    assert update["app"]["tasksRunning"] == 1

    scale = run["scale"]
    assert scale["changed"] and scale["changed_fields"] == ["instances"] and scale["app"]["tasksRunning"] == 3
    assert scale["app"]["versionInfo"]["lastConfigChangeAt"] == update["app"]["versionInfo"]["lastConfigChangeAt"]

    restart = run["restart"]
    assert restart["changed"] and restart["deployment_id"] and restart["changed_fields"] == []
    assert restart["app"]["versionInfo"]["lastConfigChangeAt"] != scale["app"]["versionInfo"]["lastConfigChangeAt"]
    assert restart["app"]["versionInfo"]["lastScalingAt"] == scale["app"]["versionInfo"]["lastScalingAt"]
    assert restart["app"]["tasksRunning"] == 3

    assert run["absent"]["changed"] and not run["absent again"]["changed"]
    assert "/api" not in standin.state.apps and "/api" not in standin.state.tasks  # tasks killed: waited for
    assert standin.state.deployments == {}


def test_lock_409_is_waited_out_or_reported_with_marathons_message(standin, playbook):
    # 1. a deployment that finishes once the module has met the lock: the module waits for it, then updates
    standin.state.stick = True
    api(standin, "PUT", "/v2/apps/slow", {"cmd": "sleep 1"})
    reset_requests(standin)

    def unstick_after_409():
        while not any(s == 409 for m, p, s in requests_seen(standin)):
            time.sleep(0.05)
        standin.state.stick = False

    threading.Thread(target=unstick_after_409, daemon=True).start()
    run = playbook([{"name": "update while locked", APP: {"url": standin.url, "id": "slow", "instances": 2}}],
                   expect_rc=0)
    assert run["update while locked"]["changed"]
    statuses = [(m, s) for m, p, s in requests_seen(standin) if m == "PUT"]
    assert statuses == [("PUT", 409), ("PUT", 200)]
    assert standin.state.apps["/slow"]["instances"] == 2

    # 2. a stuck deployment: bounded wait, then Marathon's message; force=true overrides
    standin.state.stick = True
    stuck = api(standin, "PUT", "/v2/apps/stuck", {"cmd": "sleep 1"})["deploymentId"]
    started = time.time()
    run = playbook([
        {"name": "locked", APP: {"url": standin.url, "id": "stuck", "instances": 2, "wait_timeout": 2},
         "ignore_errors": True},
        {"name": "forced", APP: {"url": standin.url, "id": "stuck", "instances": 2, "force": True, "wait": False}},
    ], expect_rc=0)
    locked = run["locked"]
    assert locked["failed"] and locked["status"] == 409
    assert "App is locked by one or more deployments" in locked["msg"]
    assert locked["marathon_message"].startswith("App is locked by one or more deployments.")
    assert locked["deployments"] == [{"id": stuck}]
    assert time.time() - started < 60
    forced = run["forced"]
    assert forced["changed"] and forced["deployment_id"] != stuck
    assert stuck not in standin.state.deployments and standin.state.apps["/stuck"]["instances"] == 2


def test_422_is_surfaced_with_marathons_message_and_bad_ids_fail_before_any_request(standin, playbook):
    run = playbook([
        {"name": "invalid", APP: {"url": standin.url, "id": "bad", "definition": {
            "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 2}}}, "ignore_errors": True},
        {"name": "no command", APP: {"url": standin.url, "id": "nocmd", "definition": {"mem": 10}},
         "ignore_errors": True},
        {"name": "bad id", APP: {"url": standin.url, "id": "Bad_Name", "definition": {"cmd": "x"}},
         "ignore_errors": True},
        {"name": "id mismatch", APP: {"url": standin.url, "id": "a", "definition": {"id": "b", "cmd": "x"}},
         "ignore_errors": True},
    ], expect_rc=0)
    invalid = run["invalid"]
    assert invalid["failed"] and invalid["status"] == 422
    assert invalid["marathon_message"] == "Object is not valid"
    assert invalid["details"] == [{"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["is greater than 1"]}]
    assert "/upgradeStrategy/minimumHealthCapacity: is greater than 1" in invalid["msg"]
    assert "must either contain one of 'cmd' or 'args'" in run["no command"]["msg"]
    assert run["bad id"]["failed"] and run["bad id"]["msg"].startswith("id: ")
    assert run["id mismatch"]["failed"] and run["id mismatch"]["msg"].startswith("id: ")
    assert [p for m, p, s in requests_seen(standin)] == ["/v2/apps/bad", "/v2/apps/bad", "/v2/apps/nocmd",
                                                         "/v2/apps/nocmd"]
    assert standin.state.apps == {}


def test_failover_retries_and_non_leader_proxy(standin, make_standin, playbook):
    follower = make_standin(leader_url=standin.url)
    orphan = make_standin(no_leader=True)
    dead = "http://127.0.0.1:1"
    run = playbook([
        {"name": "failover", APP: {"url": [dead, follower.url], "id": "fo", "definition": {"cmd": "sleep 1"}}},
        uri(standin, "/_test/config", "POST", {"fail": {"status": 502, "count": 2}}, name="two 502s"),
        {"name": "retried", "shepherd.fleet.marathon_app_info": {"url": standin.url, "id": "fo"}},
        {"name": "no leader anywhere", "shepherd.fleet.marathon_app_info": {"url": [orphan.url], "id": "fo"},
         "ignore_errors": True},
    ], expect_rc=0)
    assert run["failover"]["changed"] and "/fo" in standin.state.apps  # created on the leader, through the proxy
    assert run["retried"]["exists"] and run["retried"]["count"] == 1
    assert [s for m, p, s in requests_seen(standin) if p == "/v2/apps/fo"][-3:] == [502, 502, 200]
    orphaned = run["no leader anywhere"]
    assert orphaned["failed"] and orphaned["status"] == 502
    assert "Could not determine the current leader" in orphaned["msg"]
    assert len(orphan.state.requests) == 4  # first try + 3 retries


def test_basic_auth_token_and_module_defaults_group(make_standin, playbook):
    basic = make_standin(username="ops", password="s3cret")
    tokened = make_standin(token="jwt-123")
    run = playbook([
        {"name": "no credentials", APP: {"url": basic.url, "id": "a", "definition": {"cmd": "x"}},
         "ignore_errors": True},
        {"name": "grouped", "module_defaults": {"group/shepherd.fleet.marathon": {
            "url": basic.url, "username": "ops", "password": "s3cret"}}, "block": [
            {"name": "basic auth", APP: {"id": "a", "definition": {"cmd": "x"}}},
            {"name": "info with defaults", "shepherd.fleet.marathon_app_info": {"id": "a"}},
        ]},
        {"name": "token", APP: {"url": tokened.url, "token": "jwt-123", "id": "t", "definition": {"cmd": "x"}}},
        {"name": "wrong token", APP: {"url": tokened.url, "token": "nope", "id": "t"}, "ignore_errors": True},
    ], expect_rc=0)
    assert run["no credentials"]["failed"] and run["no credentials"]["status"] == 401
    assert run["basic auth"]["changed"] and run["info with defaults"]["exists"]
    assert "/a" in basic.state.apps
    assert run["token"]["changed"] and "/t" in tokened.state.apps
    assert run["wrong token"]["status"] == 401
    assert run["wrong token"]["marathon_message"] == "Invalid username or password."


def test_check_mode_predicts_and_changes_nothing(standin, playbook):
    api(standin, "PUT", "/v2/apps/existing", {"cmd": "sleep 1", "instances": 1})
    api(standin, "POST", "/_test/finish")
    before = json.dumps(standin.state.apps, sort_keys=True)
    reset_requests(standin)
    run = playbook([
        {"name": "scale", APP: {"url": standin.url, "id": "existing", "instances": 5}},
        {"name": "same", APP: {"url": standin.url, "id": "existing", "definition": {"cmd": "sleep 1"}}},
        {"name": "create", APP: {"url": standin.url, "id": "new", "definition": {"cmd": "sleep 1"}}},
        {"name": "restart", APP: {"url": standin.url, "id": "existing", "state": "restarted"}},
        {"name": "remove", APP: {"url": standin.url, "id": "existing", "state": "absent"}},
    ], check=True, expect_rc=0)
    assert run["scale"]["changed"] and run["scale"]["app"]["instances"] == 5
    assert not run["same"]["changed"]
    assert run["create"]["changed"] and run["create"]["app"]["id"] == "/new"
    assert run["restart"]["changed"] and run["remove"]["changed"]
    assert {m for m, p, s in requests_seen(standin)} == {"GET"}  # nothing but reads
    assert json.dumps(standin.state.apps, sort_keys=True) == before and "/new" not in standin.state.apps


def test_diff_mode_shows_the_managed_fields_and_replace_resets_the_others(standin, playbook):
    api(standin, "PUT", "/v2/apps/d", {"cmd": "sleep 1", "cpus": 0.5, "env": {"A": "1"}, "labels": {"x": "y"},
                                       "instances": 2, "healthChecks": [{"protocol": "TCP"}]})
    api(standin, "POST", "/_test/finish")
    full = {"cmd": "sleep 1", "cpus": 0.25, "env": {"A": "1", "B": "2"}}
    run = playbook([
        {"name": "diff", APP: {"url": standin.url, "id": "d", "definition": full}},
        {"name": "replace", APP: {"url": standin.url, "id": "d", "definition": full, "replace": True}},
        {"name": "replace again", APP: {"url": standin.url, "id": "d", "definition": full, "replace": True}},
    ], diff=True, expect_rc=0)
    result = run["diff"]
    assert result["changed"] and result["changed_fields"] == ["cpus", "env"]
    diff = result["diff"]
    assert diff["before"] == {"cmd": "sleep 1", "cpus": 0.5, "env": {"A": "1"}}
    assert diff["after"] == {"cmd": "sleep 1", "cpus": 0.25, "env": {"A": "1", "B": "2"}}
    # replace: what the definition leaves out goes back to Marathon's defaults, and the diff says so
    replaced = run["replace"]
    assert replaced["changed_fields"] == ["healthChecks", "instances", "labels"]
    assert replaced["diff"]["before"]["labels"] == {"x": "y"} and replaced["diff"]["after"]["instances"] == 1
    app = standin.state.apps["/d"]
    assert app["instances"] == 1 and app["labels"] == {} and "healthChecks" not in app and app["cpus"] == 0.25
    # ... and once there, the server-filled defaults are not differences: replace mode is idempotent too
    assert not run["replace again"]["changed"]


def test_tls_validate_certs_and_ca_path(make_standin, playbook, tmp_path):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is not installed: cannot make a throwaway certificate")
    cert, key = tmp_path / "standin.pem", tmp_path / "standin.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    secure = make_standin(tls_cert=str(cert), tls_key=str(key))
    assert secure.url.startswith("https://")
    info = "shepherd.fleet.marathon_app_info"
    run = playbook([
        {"name": "unknown CA", info: {"url": secure.url, "id": "x"}, "ignore_errors": True},
        {"name": "with ca_path", info: {"url": secure.url, "id": "x", "ca_path": str(cert)}},
        {"name": "without validation", info: {"url": secure.url, "id": "x", "validate_certs": False}},
    ], expect_rc=0)
    assert run["unknown CA"]["failed"] and "certificate" in run["unknown CA"]["msg"].lower()
    assert run["with ca_path"]["exists"] is False and not run["with ca_path"].get("failed")
    assert run["without validation"]["exists"] is False and not run["without validation"].get("failed")
    assert [p for m, p, s in requests_seen(secure)] == ["/v2/apps/x", "/v2/apps/x"]
