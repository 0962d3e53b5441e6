"""The Marathon stand-in against SEMANTICS.md section 9 (the checklist for judging a double) and the upstream
JSON Schemas (spec-v1.7.236 AppDefinition.json / Group.json)."""

import base64
import json
import os
import pathlib
import re
import time
import urllib.error
import urllib.request

import pytest
from marathon_upstream import load_schema

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# AppInfo adds these to an AppDefinition; `role` appeared in 1.9, after the last release that shipped the schema.
NOT_IN_17_SCHEMA = ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments", "tasks",
                    "lastTaskFailure", "readinessCheckResults", "taskStats", "role")


def call(base, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status, raw, hdrs = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, raw, hdrs = err.code, err.read(), err.headers
    text = raw.decode()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, hdrs, parsed


@pytest.fixture
def api(standin):
    return lambda method, path, body=None, headers=None: call(standin.url, method, path, body, headers)


def wait_deployments_done(api, timeout=3.0):
    end = time.time() + timeout
    while time.time() < end:
        if api("GET", "/v2/deployments")[2] == []:
            return
        time.sleep(0.02)
    raise AssertionError("deployments still running")


def test_ids_are_normalised_and_validated(api):
    for raw in ("foo", "/foo/", "//foo"):
        status, _hdrs, body = api("PUT", "/v2/apps/" + raw.strip("/") + "?force=true", {"id": raw, "cmd": "sleep 1"})
        assert status in (200, 201)
    apps = api("GET", "/v2/apps")[2]["apps"]
    assert [a["id"] for a in apps] == ["/foo"]
    for bad in ("Foo", "foo_bar"):
        status, _hdrs, body = api("POST", "/v2/apps", {"id": bad, "cmd": "sleep 1"})
        assert status == 422
        assert body["details"][0]["path"] == "/id"
    status, _hdrs, _body = api("POST", "/v2/apps", {"id": "/a/b/c", "cmd": "sleep 1"})
    assert status == 201
    assert api("GET", "/v2/groups/a/b")[0] == 200
    api("DELETE", "/v2/apps/a/b/c")
    assert api("GET", "/v2/groups/a/b")[0] == 200  # empty parent groups stay
    assert api("GET", "/v2/apps/a/b/c")[2] == {"message": "App '/a/b/c' does not exist"}


def test_post_and_put_semantics(api):
    status, headers, body = api("POST", "/v2/apps", {"id": "web", "cmd": "sleep 1"})
    assert status == 201 and headers["Location"] == "/web"
    assert body["deployments"] == [{"id": headers["Marathon-Deployment-Id"]}]
    assert "versionInfo" not in body and body["tasksRunning"] == 0 and "app" not in body
    status, _hdrs, body = api("POST", "/v2/apps", {"id": "/web", "cmd": "sleep 1"})
    assert status == 409 and body["message"] in (
        "An app with id [/web] already exists.",
        "App is locked by one or more deployments. Override with the option '?force=true'. View details at "
        "'/v2/deployments/%s'." % headers["Marathon-Deployment-Id"])
    wait_deployments_done(api)
    assert api("POST", "/v2/apps", {"id": "/web", "cmd": "sleep 1"})[2] == {
        "message": "An app with id [/web] already exists."}
    status, headers, body = api("PUT", "/v2/apps/new", {"cmd": "sleep 1"})
    assert status == 201 and set(body) == {"deploymentId", "version"}
    wait_deployments_done(api)
    before = api("GET", "/v2/apps/web")[2]["app"]
    status, headers, body = api("PUT", "/v2/apps/web", {"cmd": "sleep 1"})  # no-op
    assert status == 200 and body["deploymentId"] == headers["Marathon-Deployment-Id"]
    after = api("GET", "/v2/apps/web")[2]["app"]
    assert after["version"] == before["version"]
    # partial update: instances only; cmd kept; only lastScalingAt moves
    api("PUT", "/v2/apps/web", {"instances": 2})
    wait_deployments_done(api)
    scaled = api("GET", "/v2/apps/web")[2]["app"]
    assert scaled["cmd"] == "sleep 1" and scaled["instances"] == 2 and scaled["version"] != before["version"]
    assert scaled["versionInfo"]["lastConfigChangeAt"] == before["versionInfo"]["lastConfigChangeAt"]
    assert scaled["versionInfo"]["lastScalingAt"] == scaled["version"]
    # partialUpdate=false resets what is left out
    api("PUT", "/v2/apps/web?partialUpdate=false", {"cmd": "sleep 2"})
    wait_deployments_done(api)
    reset = api("GET", "/v2/apps/web")[2]["app"]
    assert reset["instances"] == 1 and reset["versionInfo"]["lastConfigChangeAt"] == reset["version"]
    # version means rollback, and only with id
    status, _hdrs, body = api("PUT", "/v2/apps/web", {"version": before["version"], "cmd": "x"})
    assert status == 422 and "may only be combined" in json.dumps(body)
    assert api("PUT", "/v2/apps/web", {"version": before["version"]})[0] == 200
    wait_deployments_done(api)
    assert api("GET", "/v2/apps/web")[2]["app"]["cmd"] == "sleep 1"


def test_delete_force_defaults_true_for_apps_false_for_groups(api, standin):
    api("POST", "/v2/apps", {"id": "/g/web", "cmd": "sleep 1"})  # deployment running
    assert api("DELETE", "/v2/groups/g")[0] == 409
    status, _hdrs, body = api("DELETE", "/v2/apps/g/web")
    assert status == 200 and "deploymentId" in body
    assert api("GET", "/v2/apps/g/web")[0] == 404  # gone at once
    status, _hdrs, body = api("POST", "/v2/apps", {"id": "/g/web", "cmd": "sleep 1"})
    assert status == 409 and body["deployments"]  # StopApplication still running: locked


def test_lock_body_and_force(api):
    assert api("POST", "/_test/config", {"stick": True})[0] == 200
    _status, headers, _body = api("POST", "/v2/apps", {"id": "web", "cmd": "sleep 1"})
    dep = headers["Marathon-Deployment-Id"]
    status, _hdrs, body = api("PUT", "/v2/apps/web", {"instances": 2})
    assert status == 409
    assert body["deployments"] == [{"id": dep}] and "/v2/deployments/%s" % dep in body["message"]
    assert api("POST", "/v2/apps/web/restart")[0] == 409
    status, _hdrs, body = api("PUT", "/v2/apps/web?force=true", {"instances": 2})
    assert status == 200
    running = api("GET", "/v2/deployments")[2]
    assert [d["id"] for d in running] == [body["deploymentId"]]  # the old one was cancelled
    # cancel with rollback (200 + new deployment) and without (202, no body)
    status, _hdrs, rollback = api("DELETE", "/v2/deployments/" + body["deploymentId"])
    assert status == 200 and rollback["deploymentId"] != body["deploymentId"]
    status, _hdrs, empty = api("DELETE", "/v2/deployments/" + rollback["deploymentId"] + "?force=true")
    assert status == 202 and empty is None
    assert api("DELETE", "/v2/deployments/nope")[2] == {"message": "DeploymentPlan nope does not exist"}


def test_get_app_fills_defaults_embeds_counts_and_reorders_sets(api):
    constraints = [["rack", "GROUP_BY", "2"], ["hostname", "UNIQUE"], ["zone", "LIKE", "a"]]
    api("POST", "/v2/apps", {"id": "web", "cmd": "sleep 1", "constraints": constraints, "args": []})
    status, _hdrs, body = api("GET", "/v2/apps/web")
    app = body["app"]
    assert status == 200
    for key in ("tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments"):
        assert key in app
    assert app["cpus"] == 1 and app["mem"] == 128 and app["networks"] == [{"mode": "host"}]
    assert app["portDefinitions"][0]["port"] >= 10000 and app["portDefinitions"][0]["name"] == "default"
    assert "args" not in app  # omitEmpty
    assert sorted(app["constraints"]) == sorted(constraints) and app["constraints"] != constraints
    assert TIMESTAMP.match(app["version"]) and TIMESTAMP.match(app["versionInfo"]["lastScalingAt"])


def test_health_counts(api):
    api("POST", "/_test/config", {"deploy_seconds": 0})
    api("POST", "/v2/apps", {"id": "plain", "cmd": "sleep 1", "instances": 2})
    api("POST", "/v2/apps", {"id": "checked", "cmd": "sleep 1", "instances": 2, "healthChecks": [{"protocol": "TCP"}]})
    plain = api("GET", "/v2/apps/plain")[2]["app"]
    checked = api("GET", "/v2/apps/checked")[2]["app"]
    assert (plain["tasksRunning"], plain["tasksHealthy"]) == (2, 0)
    assert (checked["tasksRunning"], checked["tasksHealthy"]) == (2, 2)
    assert checked["healthChecks"][0]["portIndex"] == 0 and checked["healthChecks"][0]["gracePeriodSeconds"] == 300
    api("POST", "/_test/config", {"unhealthy": ["/checked"]})
    checked = api("GET", "/v2/apps/checked")[2]["app"]
    assert (checked["tasksHealthy"], checked["tasksUnhealthy"]) == (0, 2)


def test_validation_bodies(api, standin):
    status, _hdrs, body = api("POST", "/v2/apps", {"id": "x", "cmd": "y", "upgradeStrategy": {"minimumHealthCapacity": 2}})
    assert status == 422
    assert body == {"message": "Object is not valid",
                    "details": [{"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["is greater than 1"]}]}
    status, _hdrs, body = api("POST", "/v2/apps", {"id": "x"})
    assert status == 422 and "must either contain one of 'cmd' or 'args'" in body["details"][0]["errors"][0]
    status, _hdrs, body = api("POST", "/v2/apps", {"id": 5, "cmd": "y"})
    assert status == 422 and body["message"] == "Invalid JSON"
    req = urllib.request.Request(standin.url + "/v2/apps", data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    body = json.loads(err.value.read())
    assert err.value.code == 400 and body["message"] == "Invalid JSON" and isinstance(body["details"], str)


def test_info_leader_ping_and_auth(standin):
    from marathon_standin import MarathonStandin

    base = standin.url
    status, headers, info = call(base, "GET", "/v2/info")
    assert status == 200 and info["name"] == "marathon" and info["elected"] is True
    assert "stand-in" in info["standin"] and info["buildref"] == "shepherd-standin"  # never mistaken for Marathon
    assert headers["X-Marathon-Leader"].startswith("http://")
    assert call(base, "GET", "/v2/leader")[2] == {"leader": "127.0.0.1:%d" % standin.port}
    assert call(base, "GET", "/ping")[2] == "pong"
    assert call(base, "GET", "/ping", headers={"Accept": "application/json"})[2] == "pong"
    assert call(base, "GET", "/ping", headers={"Accept": "image/png"})[0] == 204
    secured = MarathonStandin(port=0, username="ops", password="s3cret", deploy_seconds=0).start()
    try:
        status, headers, body = call(secured.url, "GET", "/ping")
        assert status == 401 and headers["WWW-Authenticate"] == 'basic realm="Mesosphere"' and "<html>" in body
        good = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
        assert call(secured.url, "GET", "/ping", headers=good)[0] == 200
        # a non-leader proxies to the leader; with no leader it answers 502
        follower = MarathonStandin(port=0, leader_url=secured.url).start()
        orphan = MarathonStandin(port=0, no_leader=True).start()
        try:
            status, headers, body = call(follower.url, "POST", "/v2/apps", {"id": "p", "cmd": "x"}, headers=good)
            assert status == 201 and "Marathon-Deployment-Id" in headers
            assert call(secured.url, "GET", "/v2/apps/p", headers=good)[0] == 200
            assert call(follower.url, "GET", "/v2/apps/p")[0] == 401
            status, _hdrs, body = call(orphan.url, "GET", "/v2/apps")
            assert status == 502 and "Could not determine the current leader" in body
        finally:
            follower.stop()
            orphan.stop()
    finally:
        secured.stop()
    tokened = MarathonStandin(port=0, token="jwt123").start()
    try:
        assert call(tokened.url, "GET", "/v2/apps")[0] == 401
        assert call(tokened.url, "GET", "/v2/apps", headers={"Authorization": "token=jwt123"})[0] == 200
    finally:
        tokened.stop()


def test_requests_are_counted_but_test_endpoints_are_not(api):
    api("GET", "/v2/apps")
    api("GET", "/v2/apps/nope")
    log = api("GET", "/_test/requests")[2]
    assert [(r["method"], r["path"]) for r in log["requests"]] == [("GET", "/v2/apps"), ("GET", "/v2/apps/nope")]
    assert api("DELETE", "/_test/requests")[0] == 204
    assert api("GET", "/_test/requests")[2]["count"] == 0


# -- JSON Schema ---------------------------------------------------------------------------------------------------

def schema_validators():
    app_schema = load_schema("AppDefinition.json")
    group_schema = load_schema("Group.json")
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    referencing = pytest.importorskip("referencing", reason="referencing is not installed")
    from referencing.jsonschema import DRAFT4

    registry = referencing.Registry().with_resources([
        (group_schema["id"].rsplit("/", 1)[0] + "/AppDefinition.json", DRAFT4.create_resource(app_schema)),
    ])
    return (jsonschema.Draft4Validator(app_schema),
            jsonschema.Draft4Validator(group_schema, registry=registry))


def as_definition(app):
    return {k: v for k, v in app.items() if k not in NOT_IN_17_SCHEMA}


def as_group(group):
    """GroupInfo minus what 1.9+ added (pods, enforceRole) and the AppInfo fields of its apps."""
    return {"id": group["id"], "apps": [as_definition(a) for a in group["apps"]],
            "groups": [as_group(g) for g in group["groups"]], "dependencies": group["dependencies"],
            "version": group["version"]}


def assert_valid(validator, instance):
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, "\n".join("%s at %s" % (e.message, list(e.absolute_path)) for e in errors[:5])


def test_responses_validate_against_upstream_schema(api, upstream_example):
    app_validator, group_validator = schema_validators()
    api("POST", "/_test/config", {"deploy_seconds": 0})
    bodies = upstream_example("apps_create.json") + [upstream_example("app-check-http-example.json")]
    bodies.append({"id": "/prod/web", "cmd": "python3 -m http.server $PORT0", "cpus": 0.25, "mem": 64,
                   "env": {"A": "1"}, "labels": {"team": "web"}, "uris": ["http://example.invalid/app.tgz"],
                   "healthChecks": [{"protocol": "HTTP", "path": "/"}, {"protocol": "TCP"}],
                   "readinessChecks": [{"name": "ready", "portName": "default"}],
                   "constraints": [["hostname", "UNIQUE"]], "dependencies": ["/test/sleep120"]})
    bodies.append({"id": "/prod/db", "container": {"type": "DOCKER", "docker": {"image": "postgres:15"},
                                                   "portMappings": [{"containerPort": 5432, "name": "pg"}]},
                   "networks": [{"mode": "container/bridge"}], "mem": 512})
    ids = []
    for body in bodies:
        status, _hdrs, created = api("POST", "/v2/apps", body)
        assert status == 201, created
        assert_valid(app_validator, as_definition(created))
        ids.append(created["id"])
    # updates, a rollback to the first version and a group PUT must keep the bodies valid too
    first_version = api("GET", "/v2/apps/prod/web")[2]["app"]["version"]
    assert api("PUT", "/v2/apps/prod/web", {"instances": 2, "env": {"B": "2"}, "ports": [0]})[0] == 200
    assert api("PUT", "/v2/apps/prod/web", {"version": first_version})[0] == 200
    assert api("PUT", "/v2/groups/shop", {"apps": [{"id": "cart", "cmd": "sleep 1", "labels": {"a": "b"}}],
                                          "dependencies": ["/prod"]})[0] == 201
    ids.append("/shop/cart")
    for app_id in ids:
        app = api("GET", "/v2/apps" + app_id)[2]["app"]
        assert_valid(app_validator, as_definition(app))
        version = api("GET", "/v2/apps%s/versions" % app_id)[2]["versions"][0]
        assert_valid(app_validator, as_definition(api("GET", "/v2/apps%s/versions/%s" % (app_id, version))[2]))
    for app in api("GET", "/v2/apps?embed=apps.tasks")[2]["apps"]:
        assert_valid(app_validator, as_definition(app))
    for path in ("/v2/groups", "/v2/groups/prod", "/v2/groups/shop", "/v2/groups?embed=group.apps.counts"):
        assert_valid(group_validator, as_group(api("GET", path)[2]))


def test_other_responses_have_the_upstream_example_shapes(api, upstream_example):
    api("POST", "/_test/config", {"stick": True})
    api("POST", "/v2/apps", {"id": "web", "cmd": "sleep 1"})
    deployments = api("GET", "/v2/deployments")[2]
    assert set(deployments[0]) == set(upstream_example("deployments.json")[0])
    info = api("GET", "/v2/info")[2]
    assert set(upstream_example("info.json")) <= set(info)
    result = api("PUT", "/v2/apps/other", {"cmd": "x"})[2]
    assert set(result) == set(upstream_example("deployments_result.json"))
    api("POST", "/_test/config", {"stick": False})
    api("POST", "/_test/finish")
    task = api("GET", "/v2/apps/web/tasks")[2]["tasks"][0]
    assert set(upstream_example("app_tasks.json")["tasks"][0]) <= set(task)


def test_standalone_command_line_says_it_is_a_standin():
    """Issue 7 and the lab run the file directly: --help, the log and the first output line must label it."""
    import subprocess
    import sys

    script = str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "standins" / "marathon" / "marathon_standin.py")
    helptext = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, check=True).stdout
    assert "stand-in, not Marathon" in helptext
    # Marathon's own flag names and MARATHON_* environment variables work too (the marathon role passes those)
    env = dict(os.environ, MARATHON_HTTP_CREDENTIALS="ops:s3cret")
    proc = subprocess.Popen([sys.executable, script, "--http_port", "0", "--deploy-seconds", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = "http://127.0.0.1:%d" % int(proc.stdout.readline().split()[1])
        assert call(base, "GET", "/v2/info")[0] == 401
        auth = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
        assert call(base, "GET", "/v2/info", headers=auth)[2]["buildref"] == "shepherd-standin"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert "stand-in, not Marathon" in proc.stderr.read()
