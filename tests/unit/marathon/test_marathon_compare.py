"""The compare-first logic, on realistic server-filled app bodies (upstream examples and SEMANTICS.md section 3)."""

import copy

import pytest
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import MarathonClient, normalize_app_id
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_compare import (
    READ_ONLY_FIELDS,
    compare_app,
    predict_app,
    prepare_definition,
    update_body,
    values_equal,
)

# GET /v2/apps/web on Marathon 1.10 for {"id": "web", "cmd": "sleep 1000"} (SEMANTICS.md section 3).
SERVER_110 = {
    "id": "/web", "cmd": "sleep 1000",
    "instances": 1, "cpus": 1.0, "mem": 128.0, "disk": 0, "gpus": 0,
    "executor": "", "backoffSeconds": 1, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 300,
    "labels": {}, "networks": [{"mode": "host"}],
    "portDefinitions": [{"port": 10000, "name": "default", "protocol": "tcp"}],
    "requirePorts": False,
    "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
    "killSelection": "YOUNGEST_FIRST", "role": "*",
    "version": "2021-01-01T00:00:00.000Z",
    "versionInfo": {"lastScalingAt": "2021-01-01T00:00:00.000Z", "lastConfigChangeAt": "2021-01-01T00:00:00.000Z"},
    "tasksStaged": 0, "tasksRunning": 0, "tasksHealthy": 0, "tasksUnhealthy": 0,
    "deployments": [{"id": "5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43"}], "tasks": [],
}


def wanted(definition, instances=None):
    app_id = normalize_app_id(definition["id"])
    return prepare_definition(definition, app_id, instances)[0]


def test_defaults_filled_by_marathon_110_are_not_changes():
    changed = compare_app(wanted({"id": "web", "cmd": "sleep 1000"}), SERVER_110)[0]
    assert changed == []


def test_values_the_user_gives_that_equal_defaults_are_not_changes():
    definition = {"id": "/web/", "cmd": "sleep 1000", "cpus": 1, "mem": "128", "executor": "", "args": [],
                  "constraints": [], "env": {}, "healthChecks": None, "requirePorts": False,
                  "portDefinitions": [{"port": 0}]}
    assert compare_app(wanted(definition), SERVER_110)[0] == []


def test_a_real_change_is_reported_with_before_and_after():
    changed, before, after = compare_app(wanted({"id": "web", "cmd": "sleep 2000", "mem": 128}), SERVER_110)
    assert changed == ["cmd"]
    assert before == {"cmd": "sleep 1000", "mem": 128.0}
    assert after == {"cmd": "sleep 2000", "mem": 128.0}


def test_instances_shortcut_overrides_definition():
    app = wanted({"id": "web", "cmd": "sleep 1000", "instances": 1}, instances=4)
    assert compare_app(app, SERVER_110)[0] == ["instances"]
    assert update_body(app, SERVER_110, ["instances"]) == {"instances": 4}


def test_app_list_example_from_marathon_14_with_nulls_and_deprecated_fields(upstream_example):
    """Upstream v2/examples/app_list.json: a Play-JSON era body with null, [] and the deprecated uris/ports."""
    server = upstream_example("app_list.json")["apps"][0]
    definition = {
        "id": "myapp", "cmd": "env && sleep 60", "instances": 3, "cpus": 0.1, "mem": 5,
        "env": {"LD_LIBRARY_PATH": "/usr/local/lib/myLib"},
        "constraints": [["hostname", "UNIQUE", ""]], "args": [], "container": None, "healthChecks": [],
        "labels": {}, "dependencies": [], "maxLaunchDelaySeconds": 3600,
    }
    assert compare_app(wanted(definition), server)[0] == []
    # one env var more is a change; env is compared whole, not as a subset
    definition["env"] = {"LD_LIBRARY_PATH": "/usr/local/lib/myLib", "EXTRA": "1"}
    assert compare_app(wanted(definition), server)[0] == ["env"]
    # and so is an env var less
    definition["env"] = {}
    assert compare_app(wanted(definition), server)[0] == ["env"]


def test_group_example_apps_compare_equal_to_what_the_user_wrote(upstream_example):
    """Upstream v2/examples/group.json: server bodies with health checks filled in and docker containers."""
    group = upstream_example("group.json")
    apps = {a["id"]: a for g in group["groups"] for a in g["apps"]}
    server = apps["/tools/oauth-server"]
    definition = {
        "id": "/tools/oauth-server", "instances": 2, "mem": 1024, "constraints": [["hostname", "UNIQUE"]],
        "container": {"type": "DOCKER", "docker": {
            "image": "docker-registry/oauth_server:6d7d463cb8b1517002080a81cf23f9cf7b7fc774", "network": "HOST"}},
        "healthChecks": [{"path": "/", "protocol": "HTTP"}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
    }
    want = wanted(definition)
    # docker.network HOST is migrated to networks; group.json is a 1.3 body without networks: that differs
    assert compare_app(want, server)[0] == ["networks"]
    del want["networks"]
    assert compare_app(want, server)[0] == []
    want["healthChecks"] = [{"path": "/health", "protocol": "HTTP"}]
    assert compare_app(want, server)[0] == ["healthChecks"]


def test_set_like_lists_compare_in_any_order_but_ordered_lists_do_not():
    server = dict(SERVER_110, constraints=[["rack", "GROUP_BY", "2"], ["hostname", "UNIQUE"]],
                  acceptedResourceRoles=["slave_public", "*"], args=None,
                  healthChecks=[{"protocol": "TCP", "portIndex": 0, "gracePeriodSeconds": 300, "intervalSeconds": 60,
                                 "timeoutSeconds": 20, "maxConsecutiveFailures": 3, "delaySeconds": 15},
                                {"protocol": "HTTP", "path": "/h", "portIndex": 0, "gracePeriodSeconds": 300,
                                 "intervalSeconds": 60, "timeoutSeconds": 20, "maxConsecutiveFailures": 3,
                                 "delaySeconds": 15, "ipProtocol": "IPv4"}])
    definition = {"id": "web", "cmd": "sleep 1000",
                  "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]],
                  "acceptedResourceRoles": ["*", "slave_public"],
                  "healthChecks": [{"protocol": "HTTP", "path": "/h"}, {"protocol": "TCP"}]}
    assert compare_app(wanted(definition), server)[0] == []
    # a constraint that appears twice is not the same as two different ones (multiset, not set)
    definition["constraints"] = [["hostname", "UNIQUE"], ["hostname", "UNIQUE"]]
    assert compare_app(wanted(definition), server)[0] == ["constraints"]
    # portDefinitions keep their order
    server["portDefinitions"] = [{"port": 10001, "name": "a", "protocol": "tcp"},
                                 {"port": 10002, "name": "b", "protocol": "tcp"}]
    definition = {"id": "web", "portDefinitions": [{"port": 0, "name": "b"}, {"port": 0, "name": "a"}]}
    assert compare_app(wanted(definition), server)[0] == ["portDefinitions"]
    definition["portDefinitions"].reverse()
    assert compare_app(wanted(definition), server)[0] == []


def test_numbers_compare_numerically_and_bools_strictly():
    assert values_equal(1, 1.0)
    assert values_equal(0.1, 0.1000000000001)
    assert not values_equal(True, 1)
    assert not values_equal(1, True)
    assert values_equal(False, None)
    assert values_equal("", None) and values_equal([], None) and values_equal({}, None) and values_equal(None, [])


def test_replace_resets_fields_left_out_but_not_default_ones():
    server = dict(SERVER_110, user="nobody", env={"A": "1"}, cpus=0.5)
    definition = {"id": "web", "cmd": "sleep 1000"}
    assert compare_app(wanted(definition), server)[0] == []
    changed, before, after = compare_app(wanted(definition), server, replace=True)
    assert changed == ["cpus", "env", "user"]
    assert before["user"] == "nobody" and after["user"] is None and after["cpus"] == 1
    body = update_body(wanted(definition), server, changed, replace=True)
    assert body == {"id": "/web", "cmd": "sleep 1000", "role": "*"}
    # a max launch delay of 3600 is the default up to 1.7: not a reason to reset
    assert compare_app(wanted(definition), dict(SERVER_110, maxLaunchDelaySeconds=3600), replace=True)[0] == []


def test_update_body_never_carries_read_only_fields():
    server = copy.deepcopy(SERVER_110)
    definition = dict(server, id="web", cmd="sleep 5", env={"A": "b"})  # a GET response edited and sent back
    want, dropped = prepare_definition(definition, "/web")
    assert set(dropped) == {k for k in READ_ONLY_FIELDS if k in server}
    changed = compare_app(want, server)[0]
    assert changed == ["cmd", "env"]
    for replace in (False, True):
        body = update_body(want, server, changed, replace)
        assert not set(body) & set(READ_ONLY_FIELDS)
    assert update_body(want, server, changed) == {"cmd": "sleep 5", "env": {"A": "b"}}
    # replace keeps the service port Marathon assigned instead of sending port 0 again
    assert update_body(want, server, changed, True)["portDefinitions"][0]["port"] == 10000


def test_prepare_definition_normalises_like_marathon():
    definition = {"id": "x", "cpus": "0.5", "instances": "2", "dependencies": ["db", "/other/x"],
                  "uris": ["http://a/b.tgz"], "ports": [0, 0], "version": "2021-01-01T00:00:00.000Z",
                  "container": {"type": "DOCKER", "docker": {"image": "i", "network": "BRIDGE",
                                                             "portMappings": [{"containerPort": 80}]}}}
    want, dropped = prepare_definition(definition, "/shop/web")
    assert dropped == ["version"] and "version" not in want
    assert want["id"] == "/shop/web"
    assert want["cpus"] == 0.5 and want["instances"] == 2
    assert want["dependencies"] == ["/shop/db", "/other/x"]
    assert want["fetch"] == [{"uri": "http://a/b.tgz"}] and "uris" not in want
    assert want["portDefinitions"] == [{"port": 0}, {"port": 0}]
    assert want["networks"] == [{"mode": "container/bridge"}]
    assert want["container"] == {"type": "DOCKER", "docker": {"image": "i"}, "portMappings": [{"containerPort": 80}]}


@pytest.mark.parametrize("raw,expected", [("foo", "/foo"), ("/foo", "/foo"), ("//foo/", "/foo"), ("foo/", "/foo"),
                                          ("/a/./b/../c", "/a/c"), ("a.b-c/d", "/a.b-c/d")])
def test_normalize_app_id(raw, expected):
    assert normalize_app_id(raw) == expected


@pytest.mark.parametrize("raw", ["Foo", "foo_bar", "-foo", "foo-", "/", "", "/a/restart", "/a/tasks"])
def test_normalize_app_id_rejects_what_marathon_rejects(raw):
    with pytest.raises(ValueError):
        normalize_app_id(raw)


def test_predict_app_overlays_the_change():
    want = wanted({"id": "web", "instances": 3})
    predicted = predict_app(want, SERVER_110, ["instances"])
    assert predicted["instances"] == 3 and predicted["cmd"] == "sleep 1000" and "version" not in predicted


def test_examples_round_trip_through_the_standin(standin, upstream_example):
    """Every upstream request example, created on the stand-in (which fills defaults, assigns ports, reorders
    sets), compares equal to what was sent; one field changed is exactly one changed field."""
    definitions = upstream_example("apps_create.json")
    app = upstream_example("app.json")
    app.pop("args")  # the example has both cmd and args, which Marathon rejects (422)
    app.pop("ipAddress")  # and both ipAddress and docker.network, which conflict
    app.pop("portDefinitions")  # and portDefinitions with BRIDGE networking (422 as well)
    definitions.append(app)
    client = MarathonClient([standin.url], retries=0)
    for definition in definitions:
        app_id = normalize_app_id(definition["id"])
        client.put_app(app_id, definition, partial=False)
        current = client.get_app(app_id)
        want = prepare_definition(definition, app_id)[0]
        assert compare_app(want, current)[0] == [], definition["id"]
        changed = dict(definition, mem=definition["mem"] + 1)
        assert compare_app(prepare_definition(changed, app_id)[0], current)[0] == ["mem"]
