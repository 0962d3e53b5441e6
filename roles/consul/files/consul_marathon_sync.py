# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Register the Marathon tasks that run on this host with the local Consul agent, with their health.

Installed by the shepherd.fleet.consul role as consul-marathon-sync.service (standard library only). Every
``interval`` seconds it reads ``/v2/apps?embed=apps.tasks`` from the first Marathon that answers and, for each
task whose ``host`` is one of this host's names or addresses, keeps a Consul service registered:

* name: the app id with ``/`` turned into ``-`` (``/shop/web`` -> ``shop-web``), or the app's label
  ``consul.name`` (``name_label``); id ``marathon-<task id>``; address ``ipAddresses[0]`` or the task's host;
  port ``ports[0]``; tag ``marathon``; meta ``marathon_app_id`` and ``marathon_task_id``;
* one TTL check: passing while the task runs and all of Marathon's health check results are alive (running
  tasks of apps without health checks pass), critical otherwise. The TTL is three rounds: a sync that stops
  leaves its services critical, never stale and passing.

Services ``marathon-*`` whose task is gone are deregistered. While no Marathon answers, nothing is
deregistered and the last known health is kept (the check output says since when Marathon is unreachable);
while Consul does not answer, the next round tries again. Changes are logged, unchanged rounds are not.

Configuration: a JSON file (``--config``, default /etc/consul-marathon-sync.json) with ``marathon_urls`` (list),
``marathon_username`` and ``marathon_password`` (optional basic auth), ``hosts`` (list), ``consul_url``,
``consul_token``, ``interval`` (seconds) and ``name_label``. ``--once`` runs a single round; ``--remove-all``
deregisters every ``marathon-*`` service of the local agent and exits.
"""

import argparse
import base64
import json
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SERVICE_ID_PREFIX = "marathon-"
SERVICE_TAG = "marathon"
DEFAULT_CONFIG = "/etc/consul-marathon-sync.json"
DEFAULTS = {
    "marathon_urls": [],
    "marathon_username": "",
    "marathon_password": "",
    "hosts": [],
    "consul_url": "http://127.0.0.1:8500",
    "consul_token": "",
    "interval": 5,
    "name_label": "consul.name",
}
# Marathon lists tasks in these states that no longer run (or not yet): registered, but critical.
RUNNING = "TASK_RUNNING"
LOG = logging.getLogger("consul-marathon-sync")


class Unreachable(Exception):
    """A service did not answer (or answered with an error): try again next round."""


# ---------------------------------------------------------------- the mapping (pure, unit tested)

def service_name(app_id, labels, name_label):
    """Consul service name of an app: its label name_label, else the app id's path joined by '-'."""
    name = (labels or {}).get(name_label, "").strip() if name_label else ""
    return name or "-".join(part for part in app_id.split("/") if part)


def task_health(task, app):
    """(status, output) of a task for its TTL check: 'passing' or 'critical' and why."""
    state = task.get("state", "unknown")
    if state != RUNNING:
        return "critical", "task is %s" % state
    checks = app.get("healthChecks") or []
    if not checks:
        return "passing", "task is running; the app has no Marathon health checks"
    results = task.get("healthCheckResults") or []
    if not results:
        return "critical", "task is running; Marathon has no health check result yet"
    failing = [result for result in results if not result.get("alive")]
    if failing:
        cause = failing[0].get("lastFailureCause") or "not alive"
        return "critical", "%d of %d Marathon health checks failing: %s" % (len(failing), len(results), cause)
    return "passing", "all %d Marathon health checks alive" % len(results)


def task_address(task):
    """The task's first IP address, else the host Marathon runs it on."""
    for entry in task.get("ipAddresses") or []:
        if entry.get("ipAddress"):
            return entry["ipAddress"]
    return task.get("host", "")


def desired_services(apps, hosts, name_label):
    """Consul registrations ({service id: {'service': definition, 'status': ..., 'output': ...}}) for the
    tasks of `apps` (Marathon's /v2/apps?embed=apps.tasks) that run on one of `hosts`."""
    local = {host.lower() for host in hosts if host}
    wanted = {}
    for app in apps:
        for task in app.get("tasks") or []:
            if (task.get("host") or "").lower() not in local or not task.get("id"):
                continue
            service_id = SERVICE_ID_PREFIX + task["id"]
            definition = {
                "ID": service_id,
                "Name": service_name(app["id"], app.get("labels"), name_label),
                "Address": task_address(task),
                "Tags": [SERVICE_TAG],
                "Meta": {"marathon_app_id": app["id"], "marathon_task_id": task["id"]},
            }
            ports = task.get("ports") or []
            if ports:
                definition["Port"] = int(ports[0])
            status, output = task_health(task, app)
            wanted[service_id] = {"service": definition, "status": status, "output": output}
    return wanted


def registered_differs(current, definition):
    """Whether the agent's view of a service (/v1/agent/services) differs from the definition."""
    if current is None:
        return True
    return (current.get("Service") != definition["Name"] or current.get("Address") != definition["Address"]
            or int(current.get("Port") or 0) != int(definition.get("Port") or 0)
            or sorted(current.get("Tags") or []) != sorted(definition["Tags"])
            or (current.get("Meta") or {}) != definition["Meta"])


# ---------------------------------------------------------------- HTTP

def http_json(url, method="GET", body=None, headers=None, timeout=10):
    """JSON answer of url (None for an empty one); Unreachable for any failure."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        raise Unreachable("%s %s: HTTP %s %s" % (method, url, error.code, error.read()[:200].decode("utf-8", "replace")))
    except (OSError, ValueError) as error:
        raise Unreachable("%s %s: %s" % (method, url, error))
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as error:
        raise Unreachable("%s %s: not JSON (%s)" % (method, url, error))


class Marathon:
    """Reads the apps with their tasks from the first of several Marathon URLs that answers."""

    def __init__(self, urls, username="", password="", fetch=http_json):
        self.urls = [url.rstrip("/") for url in urls]
        self.headers = {"Accept": "application/json"}
        if username:
            secret = base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")
            self.headers["Authorization"] = "Basic " + secret
        self.fetch = fetch

    def apps(self):
        errors = []
        for url in self.urls:
            try:
                answer = self.fetch(url + "/v2/apps?embed=apps.tasks", headers=self.headers)
                return answer["apps"]
            except (Unreachable, KeyError, TypeError) as error:
                errors.append(str(error) or "no apps in the answer")
        raise Unreachable("no Marathon answered: " + "; ".join(errors))


class Consul:
    """The local agent's service and check endpoints."""

    def __init__(self, url, token="", fetch=http_json):
        self.url = url.rstrip("/")
        self.headers = {"X-Consul-Token": token} if token else {}
        self.fetch = fetch

    def call(self, method, path, body=None):
        return self.fetch(self.url + path, method=method, body=body, headers=self.headers)

    def marathon_services(self):
        services = self.call("GET", "/v1/agent/services") or {}
        return {sid: svc for sid, svc in services.items() if sid.startswith(SERVICE_ID_PREFIX)}

    def register(self, definition, status, output, ttl):
        body = dict(definition)
        body["Check"] = {"Name": "Marathon task health", "TTL": "%ds" % ttl, "Status": status, "Notes": output}
        self.call("PUT", "/v1/agent/service/register", body)

    def update_check(self, service_id, status, output):
        self.call("PUT", "/v1/agent/check/update/" + urllib.parse.quote("service:" + service_id, safe=""),
                  {"Status": status, "Output": output})

    def deregister(self, service_id):
        self.call("PUT", "/v1/agent/service/deregister/" + urllib.parse.quote(service_id, safe=""))


# ---------------------------------------------------------------- the loop

class Syncer:
    """One round at a time: Marathon's view of this host's tasks, applied to the local agent."""

    def __init__(self, marathon, consul, hosts, name_label="consul.name", interval=5, clock=time.time):
        self.marathon = marathon
        self.consul = consul
        self.hosts = hosts
        self.name_label = name_label
        # Three rounds without a refresh turn the checks critical (the sync stopped or hangs).
        self.ttl = max(3 * int(interval), 10)
        self.clock = clock
        self.last_wanted = None
        self.marathon_down_since = None
        self.last_status = {}

    def run_once(self):
        """One round; returns the wanted registrations applied, or raises Unreachable (Consul)."""
        wanted = self.read_marathon()
        if wanted is None:
            return None
        current = self.consul.marathon_services()
        for service_id, entry in sorted(wanted.items()):
            if registered_differs(current.get(service_id), entry["service"]):
                LOG.info("registering %s (%s at %s:%s): %s", service_id, entry["service"]["Name"],
                         entry["service"]["Address"], entry["service"].get("Port", "-"), entry["status"])
                self.consul.register(entry["service"], entry["status"], entry["output"], self.ttl)
            elif self.last_status.get(service_id) != entry["status"]:
                LOG.info("%s is %s: %s", service_id, entry["status"], entry["output"])
            self.consul.update_check(service_id, entry["status"], entry["output"])
            self.last_status[service_id] = entry["status"]
        if self.marathon_down_since is None:
            for service_id in sorted(set(current) - set(wanted)):
                LOG.info("deregistering %s: its task is gone", service_id)
                self.consul.deregister(service_id)
                self.last_status.pop(service_id, None)
        return wanted

    def read_marathon(self):
        """This host's registrations from Marathon; while Marathon is unreachable the last ones, with a note."""
        try:
            apps = self.marathon.apps()
        except Unreachable as error:
            if self.marathon_down_since is None:
                self.marathon_down_since = self.clock()
                LOG.warning("%s; keeping the last known tasks and health until it answers", error)
            if self.last_wanted is None:
                return None
            since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.marathon_down_since))
            return {sid: dict(entry, output="%s (last known: Marathon unreachable since %s)" % (entry["output"], since))
                    for sid, entry in self.last_wanted.items()}
        if self.marathon_down_since is not None:
            LOG.info("Marathon answers again")
            self.marathon_down_since = None
        self.last_wanted = desired_services(apps, self.hosts, self.name_label)
        return self.last_wanted

    def remove_all(self):
        for service_id in sorted(self.consul.marathon_services()):
            LOG.info("deregistering %s", service_id)
            self.consul.deregister(service_id)


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        config = dict(DEFAULTS, **json.load(handle))
    for field in ("marathon_urls", "hosts"):
        if not isinstance(config[field], list) or not all(isinstance(item, str) for item in config[field]):
            raise ValueError("%s: %s must be a list of strings" % (path, field))
    if not isinstance(config["interval"], (int, float)) or config["interval"] <= 0:
        raise ValueError("%s: interval must be a positive number of seconds" % path)
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="JSON configuration file (default %(default)s)")
    parser.add_argument("--once", action="store_true", help="run one round and exit (status 1 if it failed)")
    parser.add_argument("--remove-all", action="store_true", help="deregister every marathon-* service and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stdout)

    try:
        config = load_config(args.config)
    except (OSError, ValueError) as error:
        LOG.error("cannot read the configuration: %s", error)
        return 2
    consul = Consul(config["consul_url"], config["consul_token"])
    marathon = Marathon(config["marathon_urls"], config["marathon_username"], config["marathon_password"])
    syncer = Syncer(marathon, consul, config["hosts"], config["name_label"], config["interval"])

    if args.remove_all:
        try:
            syncer.remove_all()
        except Unreachable as error:
            LOG.error("%s", error)
            return 1
        return 0

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    LOG.info("syncing the tasks of %s on %s from %s every %ss", ", ".join(config["marathon_urls"]),
             ", ".join(config["hosts"]), config["consul_url"], config["interval"])
    consul_down = False
    while True:
        try:
            syncer.run_once()
            if consul_down:
                LOG.info("Consul answers again")
            consul_down = False
        except Unreachable as error:
            if args.once or not consul_down:
                LOG.warning("Consul: %s; trying again next round", error)
            consul_down = True
        if args.once:
            return 1 if consul_down or syncer.marathon_down_since is not None else 0
        if stopping.wait(float(config["interval"])):
            return 0


if __name__ == "__main__":
    sys.exit(main())
