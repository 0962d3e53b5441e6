"""marathon_group, marathon_app_info and marathon_deployment through ansible-playbook against the stand-in."""

from marathon_it import uri

APP = "shepherd.fleet.marathon_app"


def test_group_info_and_deployment_modules(standin, playbook):
    group = "shepherd.fleet.marathon_group"
    apps = [{"id": "db", "cmd": "sleep 1", "mem": 64}, {"id": "web", "cmd": "sleep 2", "dependencies": ["db"],
                                                        "labels": {"team": "shop"}}]
    run = playbook([
        {"name": "group", group: {"url": standin.url, "id": "/shop", "apps": apps, "dependencies": ["/infra"]}},
        uri(standin, "/_test/requests", "DELETE", status=204, name="reset"),
        {"name": "group again", group: {"url": standin.url, "id": "shop/", "apps": apps,
                                        "dependencies": ["/infra"]}},
        uri(standin, "/_test/requests", name="requests of group again"),
        {"name": "one listed", group: {"url": standin.url, "id": "/shop", "apps": apps[:1]}},
        {"name": "by prefix", "shepherd.fleet.marathon_app_info": {"url": standin.url, "id_prefix": "shop",
                                                                   "tasks": True}},
        {"name": "by label", "shepherd.fleet.marathon_app_info": {"url": standin.url, "label": "team==shop"}},
        {"name": "missing", "shepherd.fleet.marathon_app_info": {"url": standin.url, "id": "/nope"}},
        {"name": "prune", group: {"url": standin.url, "id": "/shop", "apps": apps[:1], "remove_unlisted_apps": True}},
        uri(standin, "/_test/config", "POST", {"stick": True}, name="stick"),
        {"name": "start stuck", APP: {"url": standin.url, "id": "/shop/db", "instances": 2, "wait": False}},
        {"name": "list", "shepherd.fleet.marathon_deployment": {"url": standin.url, "app_id": "/shop/db"},
         "register": "listed"},
        {"name": "rollback", "shepherd.fleet.marathon_deployment": {
            "url": standin.url, "action": "rollback", "id": "{{ listed.deployments[0].id }}", "wait": False}},
        {"name": "wait stuck", "shepherd.fleet.marathon_deployment": {
            "url": standin.url, "action": "wait", "app_id": "/shop/db", "wait_timeout": 1}, "ignore_errors": True},
        uri(standin, "/_test/config", "POST", {"stick": False}, name="unstick"),
        {"name": "cancel gone", "shepherd.fleet.marathon_deployment": {
            "url": standin.url, "action": "cancel", "id": "not-running"}},
        {"name": "wait all", "shepherd.fleet.marathon_deployment": {"url": standin.url, "action": "wait"}},
        {"name": "after rollback", "shepherd.fleet.marathon_app_info": {"url": standin.url, "id": "/shop/db"}},
        {"name": "delete group", group: {"url": standin.url, "id": "/shop", "state": "absent"}},
    ], expect_rc=0)
    first = run["group"]
    assert first["changed"] and first["created"] == ["/shop/db", "/shop/web"]
    assert len(first["deployment_ids"]) == 2  # the group (dependencies) and one for both apps
    assert first["group"]["dependencies"] == ["/infra"]
    assert not run["group again"]["changed"]
    assert [(r["method"], r["path"]) for r in run["requests of group again"]["json"]["requests"]] == [
        ("GET", "/v2/groups/shop")]
    assert not run["one listed"]["changed"]  # web is not listed, but is not removed by surprise
    assert run["by prefix"]["count"] == 2 and run["by prefix"]["apps"][0]["tasks"]
    assert [a["id"] for a in run["by label"]["apps"]] == ["/shop/web"]
    assert run["missing"]["exists"] is False and run["missing"]["count"] == 0
    assert run["prune"]["changed"] and run["prune"]["removed"] == ["/shop/web"]
    assert run["list"]["count"] == 1 and run["list"]["deployments"][0]["affectedApps"] == ["/shop/db"]
    rollback = run["rollback"]
    assert rollback["changed"] and rollback["rollback_deployment_id"] != run["list"]["deployments"][0]["id"]
    assert not run["cancel gone"]["changed"]
    stuck = run["wait stuck"]  # the rollback is stuck too: a bounded wait that names it
    assert stuck["failed"] and stuck["waited_for"] == [rollback["rollback_deployment_id"]]
    assert "Timed out" in stuck["msg"] and rollback["rollback_deployment_id"] in stuck["msg"]
    assert not run["wait all"].get("failed") and standin.state.deployments == {}
    assert run["after rollback"]["apps"][0]["instances"] == 1  # rolled back
    assert run["delete group"]["changed"] and "/shop/db" not in standin.state.apps
    assert "/shop" not in standin.state.groups
