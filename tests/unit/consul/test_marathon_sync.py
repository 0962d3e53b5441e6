# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The consul role's Marathon task sync: how Marathon's apps and tasks map to Consul registrations, and what
a round does to the local agent when tasks come and go, turn unhealthy, or Marathon or Consul is down."""

import importlib.util
import json
import os

import pytest

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "consul", "files", "consul_marathon_sync.py")
_SPEC = importlib.util.spec_from_file_location("consul_marathon_sync", SOURCE)
sync = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sync)

HOSTS = ["node1", "10.0.0.5"]


def task(task_id, host="node1", state="TASK_RUNNING", ports=(31001,), ips=("10.0.0.5",), alive=None):
    out = {"id": task_id, "host": host, "state": state, "ports": list(ports),
           "ipAddresses": [{"ipAddress": ip, "protocol": "IPv4"} for ip in ips]}
    if alive is not None:
        out["healthCheckResults"] = [{"alive": value, "lastFailureCause": "HTTP 503"} for value in alive]
    return out


def app(app_id, tasks, health_checks=0, labels=None):
    return {"id": app_id, "labels": labels or {}, "healthChecks": [{"protocol": "HTTP"}] * health_checks, "tasks": tasks}


# ---------------------------------------------------------------- mapping

@pytest.mark.parametrize("app_id, labels, expected", [
    ("/shop/web", {}, "shop-web"),
    ("/web", {}, "web"),
    ("/shop/web", {"consul.name": "storefront"}, "storefront"),
    ("/shop/web", {"consul.name": "  "}, "shop-web"),
])
def test_service_name(app_id, labels, expected):
    assert sync.service_name(app_id, labels, "consul.name") == expected


def test_a_local_task_becomes_a_service():
    wanted = sync.desired_services([app("/shop/web", [task("shop_web.1")], health_checks=1)], HOSTS, "consul.name")
    assert list(wanted) == ["marathon-shop_web.1"]
    assert wanted["marathon-shop_web.1"]["service"] == {
        "ID": "marathon-shop_web.1", "Name": "shop-web", "Address": "10.0.0.5", "Port": 31001, "Tags": ["marathon"],
        "Meta": {"marathon_app_id": "/shop/web", "marathon_task_id": "shop_web.1"}}
    # A health check without a result yet is not healthy.
    assert wanted["marathon-shop_web.1"]["status"] == "critical"


def test_tasks_on_other_hosts_are_left_to_their_hosts():
    apps = [app("/web", [task("web.1", host="NODE1"), task("web.2", host="node2"), task("web.3", host="10.0.0.5")])]
    assert sorted(sync.desired_services(apps, HOSTS, "consul.name")) == ["marathon-web.1", "marathon-web.3"]


def test_address_falls_back_to_the_host_and_a_task_without_ports_has_none():
    definition = sync.desired_services([app("/w", [task("w.1", ports=(), ips=())])], HOSTS, "")["marathon-w.1"]["service"]
    assert definition["Address"] == "node1"
    assert "Port" not in definition


@pytest.mark.parametrize("the_task, checks, status", [
    (task("a"), 0, "passing"),                               # running, no health checks
    (task("a", alive=[True, True]), 2, "passing"),
    (task("a", alive=[True, False]), 2, "critical"),
    (task("a"), 1, "critical"),                              # no result yet
    (task("a", state="TASK_STAGING"), 0, "critical"),
    (task("a", state="TASK_KILLING", alive=[True]), 1, "critical"),
])
def test_health(the_task, checks, status):
    assert sync.task_health(the_task, app("/a", [], health_checks=checks))[0] == status


def test_failing_check_output_names_the_cause():
    assert sync.task_health(task("a", alive=[False]), app("/a", [], 1))[1] == "1 of 1 Marathon health checks failing: HTTP 503"


# ---------------------------------------------------------------- rounds against fakes

class FakeMarathon:
    def __init__(self, apps):
        self.apps_now = apps
        self.down = False

    def apps(self):
        if self.down:
            raise sync.Unreachable("no Marathon answered: connection refused")
        return self.apps_now


class FakeConsul:
    """The agent's services and TTL check states, as the sync's Consul client would change them."""

    def __init__(self):
        self.services = {"web": {"ID": "web", "Service": "web"}}   # not ours: never touched
        self.checks = {}
        self.down = False
        self.registrations = 0

    def marathon_services(self):
        if self.down:
            raise sync.Unreachable("connection refused")
        return {sid: svc for sid, svc in self.services.items() if sid.startswith("marathon-")}

    def register(self, definition, status, output, ttl):
        assert ttl >= 10
        self.registrations += 1
        self.services[definition["ID"]] = {"ID": definition["ID"], "Service": definition["Name"], "Address": definition["Address"],
                                           "Port": definition.get("Port", 0), "Tags": definition["Tags"], "Meta": definition["Meta"]}
        self.checks[definition["ID"]] = (status, output)

    def update_check(self, service_id, status, output):
        assert service_id in self.services
        self.checks[service_id] = (status, output)

    def deregister(self, service_id):
        del self.services[service_id]
        del self.checks[service_id]


@pytest.fixture(name="world")
def fixture_world():
    marathon = FakeMarathon([app("/shop/web", [task("web.1", alive=[True]), task("web.2", host="node2")], health_checks=1)])
    consul = FakeConsul()
    return marathon, consul, sync.Syncer(marathon, consul, HOSTS, interval=5, clock=lambda: 0)


def test_a_round_registers_this_hosts_tasks_with_their_health(world):
    _marathon, consul, syncer = world
    syncer.run_once()
    assert sorted(consul.services) == ["marathon-web.1", "web"]
    assert consul.checks["marathon-web.1"][0] == "passing"


def test_an_unchanged_round_only_refreshes_the_ttl(world):
    _marathon, consul, syncer = world
    syncer.run_once()
    syncer.run_once()
    assert consul.registrations == 1


def test_health_follows_marathon(world):
    marathon, consul, syncer = world
    syncer.run_once()
    marathon.apps_now[0]["tasks"][0]["healthCheckResults"][0]["alive"] = False
    syncer.run_once()
    assert consul.checks["marathon-web.1"][0] == "critical"
    assert consul.registrations == 1


def test_a_changed_port_re_registers(world):
    marathon, consul, syncer = world
    syncer.run_once()
    marathon.apps_now[0]["tasks"][0]["ports"] = [31999]
    syncer.run_once()
    assert consul.services["marathon-web.1"]["Port"] == 31999


def test_a_gone_task_is_deregistered_and_other_services_stay(world):
    marathon, consul, syncer = world
    syncer.run_once()
    marathon.apps_now = []
    syncer.run_once()
    assert sorted(consul.services) == ["web"]


def test_marathon_down_keeps_the_registrations_and_says_so(world):
    marathon, consul, syncer = world
    syncer.run_once()
    marathon.down = True
    marathon.apps_now = []
    syncer.run_once()
    assert sorted(consul.services) == ["marathon-web.1", "web"]
    status, output = consul.checks["marathon-web.1"]
    assert status == "passing" and "Marathon unreachable since 1970-01-01 00:00:00 UTC" in output
    marathon.down = False
    syncer.run_once()
    assert sorted(consul.services) == ["web"]


def test_marathon_down_from_the_start_changes_nothing(world):
    marathon, consul, syncer = world
    marathon.down = True
    assert syncer.run_once() is None
    assert sorted(consul.services) == ["web"]


def test_consul_down_raises_and_the_next_round_catches_up(world):
    _marathon, consul, syncer = world
    consul.down = True
    with pytest.raises(sync.Unreachable):
        syncer.run_once()
    consul.down = False
    syncer.run_once()
    assert "marathon-web.1" in consul.services


def test_remove_all_leaves_other_services(world):
    _marathon, consul, syncer = world
    syncer.run_once()
    syncer.remove_all()
    assert sorted(consul.services) == ["web"]


# ---------------------------------------------------------------- clients and configuration

def test_marathon_client_tries_the_next_url_and_sends_basic_auth():
    seen = []

    def fetch(url, headers=None, **_kwargs):
        seen.append((url, headers.get("Authorization")))
        if url.startswith("http://m1"):
            raise sync.Unreachable("refused")
        return {"apps": [{"id": "/a"}]}

    marathon = sync.Marathon(["http://m1:8080/", "http://m2:8080"], "user", "secret", fetch=fetch)
    assert marathon.apps() == [{"id": "/a"}]
    assert seen == [("http://m1:8080/v2/apps?embed=apps.tasks", "Basic dXNlcjpzZWNyZXQ="),
                    ("http://m2:8080/v2/apps?embed=apps.tasks", "Basic dXNlcjpzZWNyZXQ=")]


def test_marathon_client_reports_every_failure():
    def fetch(url, **_kwargs):
        raise sync.Unreachable(url + " refused")

    with pytest.raises(sync.Unreachable, match="m1.* refused; .*m2.* refused"):
        sync.Marathon(["http://m1", "http://m2"], fetch=fetch).apps()


def test_consul_client_quotes_ids_and_sends_the_token():
    calls = []

    def fetch(url, method="GET", body=None, headers=None):
        calls.append((method, url, body, headers))

    consul = sync.Consul("http://127.0.0.1:8500/", "tok", fetch=fetch)
    consul.update_check("marathon-a/b.1", "passing", "ok")
    consul.deregister("marathon-a/b.1")
    assert calls == [
        ("PUT", "http://127.0.0.1:8500/v1/agent/check/update/service%3Amarathon-a%2Fb.1", {"Status": "passing", "Output": "ok"},
         {"X-Consul-Token": "tok"}),
        ("PUT", "http://127.0.0.1:8500/v1/agent/service/deregister/marathon-a%2Fb.1", None, {"X-Consul-Token": "tok"})]


@pytest.mark.parametrize("content, message", [
    ({"marathon_urls": "http://m1"}, "marathon_urls must be a list"),
    ({"hosts": [1]}, "hosts must be a list of strings"),
    ({"interval": 0}, "interval must be a positive number"),
])
def test_bad_configuration_names_the_field(tmp_path, content, message):
    path = tmp_path / "sync.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        sync.load_config(str(path))


def test_main_refuses_an_unreadable_configuration(tmp_path):
    assert sync.main(["--config", str(tmp_path / "missing.json"), "--once"]) == 2
