"""playbooks/apps.yml against the stand-in: apps declared in the inventory, Marathon URL derived from it."""

import json

from marathon_it import REPO, requests_seen, reset_requests

APPS_PLAYBOOK = REPO / "playbooks" / "apps.yml"
DEPLOY = "Deploy each app (compare first; unchanged apps cost one request and report no change)"


def inventory(tmp_path, standin, apps):
    """The Marathon masters group with the stand-in as its one host, the apps declared in its group vars."""
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps({"all": {"children": {"masters": {
        "hosts": {"master1": {"ansible_host": "127.0.0.1", "marathon_http_port": standin.port}},
        "vars": {"marathon_apps": apps}}}}}))
    return path


def test_apps_playbook_deploys_then_changes_nothing_then_follows_the_inventory(standin, playbook, tmp_path):
    apps = [{"id": "/shop/web", "cmd": "python3 -m http.server $PORT0", "instances": 2, "mem": 64,
             "labels": {"team": "shop"}},
            {"id": "/shop/worker", "cmd": "sleep 3600", "env": {"QUEUE": "orders"}}]
    first = playbook(None, path=APPS_PLAYBOOK, inventory=inventory(tmp_path, standin, apps), expect_rc=0)
    assert [r["changed"] for r in first[DEPLOY]["results"]] == [True, True]
    assert standin.state.apps["/shop/web"]["instances"] == 2 and len(standin.state.tasks["/shop/web"]) == 2

    reset_requests(standin)
    again = playbook(None, path=APPS_PLAYBOOK, inventory=inventory(tmp_path, standin, apps), expect_rc=0)
    assert again.changed == 0
    assert sorted(requests_seen(standin)) == [("GET", "/v2/apps/shop/web", 200), ("GET", "/v2/apps/shop/worker", 200)]

    apps[0]["instances"] = 3
    apps[1]["state"] = "absent"
    changed_inventory = inventory(tmp_path, standin, apps)
    reset_requests(standin)
    check = playbook(None, path=APPS_PLAYBOOK, inventory=changed_inventory, check=True, diff=True, expect_rc=0)
    assert [r["changed"] for r in check[DEPLOY]["results"]] == [True, True]
    assert check[DEPLOY]["results"][0]["diff"] == {"before": {"cmd": apps[0]["cmd"], "instances": 2, "mem": 64.0,
                                                              "labels": {"team": "shop"}},
                                                   "after": {"cmd": apps[0]["cmd"], "instances": 3, "mem": 64.0,
                                                             "labels": {"team": "shop"}}}
    assert {m for m, p, s in requests_seen(standin)} == {"GET"}  # check mode only reads

    applied = playbook(None, path=APPS_PLAYBOOK, inventory=changed_inventory, expect_rc=0)
    assert applied[DEPLOY]["results"][0]["changed_fields"] == ["instances"]
    assert standin.state.apps["/shop/web"]["instances"] == 3 and "/shop/worker" not in standin.state.apps
