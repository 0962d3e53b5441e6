"""Marathon REST API v2 STAND-IN: a shepherd test stand-in, NOT Marathon.

Real Marathon cannot run on the machines that test shepherd.fleet, so this single file, standard library only
(Python 3.9+), imitates the parts of the Marathon 1.10 REST API that the collection's modules, the lab and the
mesos/marathon role tests use. It follows /work/shared/marathon-api/SEMANTICS.md (section 9 is the checklist):

* ids normalised like ``PathId`` (``foo``, ``/foo/``, ``//foo`` -> ``/foo``); uppercase and ``_`` give 422 on ``/id``;
  parent groups are created implicitly and stay after the app is deleted;
* ``POST /v2/apps`` 201 with the bare app; ``PUT`` 201 (new) / 200 (existing) with ``{deploymentId, version}``,
  ``partialUpdate`` defaulting to true (top-level replacement), ``version`` in a body meaning rollback;
  a no-op PUT still returns a new deployment id; ``DELETE /v2/apps/{id}`` force defaults to TRUE,
  ``DELETE /v2/groups/{id}`` force defaults to false;
* 409 "App is locked" bodies with ``deployments``, ``?force=true`` cancelling the conflicting deployments;
* 422 ``{"message": "Object is not valid", "details": [...]}`` and ``Invalid JSON`` bodies;
* defaults filled in on read, ``port: 0`` replaced by a unique service port, set-like lists in another order,
  numbers that may come back as floats, timestamps ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``, version bookkeeping;
* deployments that take ``--deploy-seconds`` and can be made to stick; tasks and health counts
  (``tasksHealthy`` is 0 for apps without health checks); groups; ``/v2/info``, ``/v2/leader``, ``/ping``;
* HTTP basic auth (401 before routing, HTML body) and the DC/OS ``Authorization: token=...`` header;
* a non-leader (``--leader-url``) that proxies to the leader, or answers 502 when there is no leader (``--no-leader``);
* tasks: simulated (host ``agent1.standin.invalid``), except when ``--master`` or MARATHON_MASTER names a Mesos
  master: then the tasks of apps with ``container.type: DOCKER`` really run as Docker containers on the Mesos
  stand-in's agents (mesos_scheduler.py; ``container.docker.image``, ``networks``/``container.docker.network``,
  ``container.docker.parameters`` as ``--key=value`` (``volume-driver``, ``volume``, ``ip``, ``net``), ``env``,
  ``labels``, ``cmd``/``args``, ``portMappings``, ``constraints``; health checks really run by the agent), and
  host, ipAddresses, state and healthCheckResults come from there.

Test-only endpoints live under ``/_test/`` (never part of Marathon's API, never counted, never authenticated):
``GET /_test/requests`` (the requests seen, for request counting), ``DELETE /_test/requests`` (reset),
``POST /_test/config`` (``{"deploy_seconds", "stick", "unhealthy": [ids], "fail": {"status", "count"},
"leader": bool}``), ``POST /_test/finish`` (finish every deployment now) and ``GET /_test/state``.

Run: ``python3 marathon_standin.py --port 8080 [--hostname H] [--zk URL] [--leader-url URL] [--deploy-seconds S]
[--username U --password P] [--token T]``. ``--port 0`` picks a free port and prints it.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import json
import logging
import math
import os
import random
import re
import signal
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from election import Election  # noqa: E402  pylint: disable=wrong-import-position
from mesos_scheduler import MesosScheduler, framework_id_for, is_docker_app  # noqa: E402  pylint: disable=wrong-import-position

BANNER = "shepherd test stand-in, not Marathon"
MARATHON_VERSION = "1.10.26"
LOG = logging.getLogger("marathon_standin")

SEGMENT_RE = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
ID_ERROR = (
    "must fully match regular expression "
    "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'"
)
RESERVED_LAST_SEGMENTS = ("restart", "tasks", "versions")
NO_COMMAND = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."

# JSON type of every App field the server reads; anything else in a request body is ignored.
NUM, INT, STR, BOOL, LIST, DICT = "number", "integer", "string", "boolean", "array", "object"
APP_FIELDS = {
    "id": STR, "cmd": STR, "args": LIST, "user": STR, "env": DICT, "instances": INT, "cpus": NUM, "mem": NUM,
    "disk": NUM, "gpus": INT, "executor": STR, "constraints": LIST, "fetch": LIST, "uris": LIST, "storeUrls": LIST,
    "backoffSeconds": NUM, "backoffFactor": NUM, "maxLaunchDelaySeconds": NUM, "container": DICT,
    "healthChecks": LIST, "readinessChecks": LIST, "dependencies": LIST, "upgradeStrategy": DICT,
    "unreachableStrategy": None, "killSelection": STR, "labels": DICT, "acceptedResourceRoles": LIST,
    "ipAddress": DICT, "residency": DICT, "secrets": DICT, "taskKillGracePeriodSeconds": NUM,
    "portDefinitions": LIST, "ports": LIST, "requirePorts": BOOL, "networks": LIST, "role": STR, "version": STR,
    "executorResources": DICT, "tty": BOOL,
}
JS_EXPECTED = {NUM: "error.expected.jsnumber", INT: "error.expected.jsnumber", STR: "error.expected.jsstring",
               BOOL: "error.expected.jsboolean", LIST: "error.expected.jsarray", DICT: "error.expected.jsobject"}
# Scala Sets: written back in an order that has nothing to do with the request's.
SET_FIELDS = ("constraints", "healthChecks", "dependencies", "acceptedResourceRoles")
# omitEmpty collections (1.5+): written only when not empty.
OMIT_EMPTY = ("args", "constraints", "dependencies", "env", "fetch", "healthChecks", "readinessChecks", "secrets",
              "acceptedResourceRoles", "storeUrls")
APP_DEFAULTS = {
    "instances": 1, "cpus": 1.0, "mem": 128.0, "disk": 0.0, "gpus": 0, "executor": "", "backoffSeconds": 1,
    "backoffFactor": 1.15, "maxLaunchDelaySeconds": 300, "labels": {}, "requirePorts": False,
    "killSelection": "YOUNGEST_FIRST",
}
FLOAT_FIELDS = ("cpus", "mem", "disk")
HEALTH_DEFAULTS = {"gracePeriodSeconds": 300, "intervalSeconds": 60, "timeoutSeconds": 20,
                   "maxConsecutiveFailures": 3, "delaySeconds": 15, "ipProtocol": "IPv4"}
PORTED_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")
CONSTRAINT_OPERATORS = ("CLUSTER", "GROUP_BY", "IS", "LIKE", "MAX_PER", "UNIQUE", "UNLIKE")


class ApiError(Exception):
    """An HTTP error answer: JSON body unless ``text`` is given."""

    def __init__(self, status, body=None, text=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.text = text
        self.headers = headers or {}


def invalid(details, message="Object is not valid"):
    return ApiError(422, {"message": message, "details": details})


def timestamp(when=None):
    """Marathon's timestamp format: UTC, exactly three millisecond digits, a literal Z."""
    when = time.time() if when is None else when
    dt = datetime.datetime.fromtimestamp(when, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def path_id(raw, base="/", field="/id"):
    """PathId(raw).canonicalPath(base): strip slashes, drop empty segments, resolve '.' and '..'; validate."""
    if not isinstance(raw, str):
        raise invalid([{"path": field, "errors": ["error.expected.jsstring"]}], "Invalid JSON")
    parts = [p for p in raw.split("/") if p]
    for part in parts:
        if part not in (".", "..") and not SEGMENT_RE.match(part):
            raise invalid([{"path": field, "errors": [ID_ERROR]}])
    if not raw.startswith("/"):
        parts = [p for p in base.split("/") if p] + parts
    resolved = []
    for part in parts:
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(part)
    return "/" + "/".join(resolved)


def parent_of(pid):
    return pid.rsplit("/", 1)[0] or "/"


def ancestors(pid):
    """'/a/b/c' -> ['/', '/a', '/a/b']."""
    out, parts = ["/"], [p for p in pid.split("/") if p]
    for i in range(1, len(parts)):
        out.append("/" + "/".join(parts[:i]))
    return out


def is_under(pid, group):
    return group == "/" or pid == group or pid.startswith(group + "/")


def _js_type_ok(value, kind):
    if kind in (NUM, INT):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {STR: str, BOOL: bool, LIST: list, DICT: dict}[kind])


def check_types(body):
    """Invalid JSON (422) for fields of the wrong JSON type, like Play's JsResultException."""
    if not isinstance(body, dict):
        raise invalid([{"path": "/", "errors": ["error.expected.jsobject"]}], "Invalid JSON")
    errors = []
    for key, value in body.items():
        kind = APP_FIELDS.get(key)
        if kind and value is not None and not _js_type_ok(value, kind):
            errors.append({"path": "/" + key, "errors": [JS_EXPECTED[kind]]})
    for key in ("labels", "env"):
        for k, v in (body.get(key) or {}).items() if isinstance(body.get(key), dict) else ():
            if not isinstance(v, str) and not (key == "env" and isinstance(v, dict) and "secret" in v):
                errors.append({"path": "/%s/%s" % (key, k), "errors": ["error.expected.jsstring"]})
    for key in ("args", "acceptedResourceRoles", "dependencies"):
        for i, v in enumerate(body.get(key) or []) if isinstance(body.get(key), list) else ():
            if not isinstance(v, str):
                errors.append({"path": "/%s(%d)" % (key, i), "errors": ["error.expected.jsstring"]})
    if errors:
        raise invalid(errors, "Invalid JSON")


def _set_order(items):
    """Scala Set iteration order: stable for a given content, unrelated to the order sent."""
    return sorted(items, key=lambda item: (len(json.dumps(item, sort_keys=True)) * 7919
                                           + sum(map(ord, json.dumps(item, sort_keys=True)))) % 1009)


class Deployment:
    def __init__(self, plan_id, version, actions, finish_at, originals, forced=False):
        self.id = plan_id
        self.version = version
        self.actions = actions  # [(action, app_id)]
        self.finish_at = finish_at
        self.originals = originals  # app id -> definition before the plan (None: did not exist)
        self.forced = forced

    def affected(self):
        return sorted({app for _action, app in self.actions})

    def to_json(self):
        steps = [{"actions": [{"action": a, "app": app}]} for a, app in self.actions]
        return {
            "id": self.id, "version": self.version, "affectedApps": self.affected(), "affectedPods": [],
            "steps": steps,
            "currentActions": [{"action": a, "app": app, "readinessCheckResults": []} for a, app in self.actions],
            "currentStep": 1 if steps else 0, "totalSteps": len(steps),
        }


class State:
    """Everything the fake Marathon knows. All access goes through ``lock``."""

    def __init__(self, deploy_seconds=1.0, mesos_role="*", max_running_deployments=100):
        self.lock = threading.RLock()
        self.deploy_seconds = deploy_seconds
        self.stick = False
        self.unhealthy = set()
        self.fail = {"status": 0, "count": 0}
        self.leader = True
        self.mesos_role = mesos_role
        self.max_running_deployments = max_running_deployments
        self.apps = {}  # id -> stored definition (normalised, with version and versionInfo)
        self.versions = {}  # id -> {version: definition}
        self.groups = {"/": {"dependencies": [], "version": timestamp()}}
        self.deployments = {}  # id -> Deployment
        self.tasks = {}  # app id -> [task]
        self.on_mesos = False  # True: DOCKER apps' tasks run on the Mesos stand-in (mesos_scheduler.py)
        self.requests = []
        self.ports = set()
        self._last_ts = 0.0

    # -- bookkeeping -------------------------------------------------------------------------------------------
    def now(self):
        """A fresh timestamp, strictly later than the previous one (versions must be unique)."""
        t = max(time.time(), self._last_ts + 0.001)
        self._last_ts = t
        return timestamp(t)

    def tick(self):
        now = time.time()
        for dep in list(self.deployments.values()):
            if not self.stick and dep.finish_at <= now and not self.waiting_for_mesos(dep):
                self.finish(dep)

    def waiting_for_mesos(self, dep):
        """A deployment that starts or scales tasks on Mesos lasts until those tasks run (as Marathon's)."""
        return any(task.get("_mesos") and task["state"] != "TASK_RUNNING"
                   for action, app_id in dep.actions if action in ("StartApplication", "ScaleApplication")
                   for task in self.tasks.get(app_id, []))

    def finish(self, dep):
        self.deployments.pop(dep.id, None)
        for action, app_id in dep.actions:
            if action == "StopApplication":
                self.tasks.pop(app_id, None)
            elif app_id in self.apps:
                self.reconcile_tasks(app_id, replace=action == "RestartApplication")
        LOG.info("deployment %s finished (%s)", dep.id, ", ".join("%s %s" % a for a in dep.actions) or "empty")

    def reconcile_tasks(self, app_id, replace=False):
        app = self.apps[app_id]
        tasks = [] if replace else list(self.tasks.get(app_id, []))[: app["instances"]]
        while len(tasks) < app["instances"]:
            tasks.append(self.new_task(app))
        for task in tasks:
            if not task.get("_mesos"):  # tasks on Mesos get their state from their agent
                task["state"] = "TASK_RUNNING"
                task["startedAt"] = task.get("startedAt") or self.now()
        self.tasks[app_id] = tasks

    def new_task(self, app):
        if self.on_mesos and is_docker_app(app):  # a real container on a Mesos agent (mesos_scheduler.py)
            return {
                "id": "%s.instance-%s._app.1" % (app["id"].strip("/").replace("/", "_"), uuid.uuid4()),
                "appId": app["id"], "host": "", "state": "TASK_STAGING", "ports": [],
                "servicePorts": [p.get("port", 0) for p in app.get("portDefinitions", [])],
                "slaveId": None, "stagedAt": self.now(), "startedAt": None, "version": app["version"],
                "ipAddresses": [], "localVolumes": [], "role": app.get("role", self.mesos_role), "_mesos": True,
            }
        ports = [random.randint(31000, 32000) for _pd in app.get("portDefinitions", [])]
        return {
            "id": "%s.instance-%s._app.1" % (app["id"].strip("/").replace("/", "_"), uuid.uuid4()),
            "appId": app["id"], "host": "agent1.standin.invalid", "state": "TASK_STAGING",
            "ports": ports, "servicePorts": [p.get("port", 0) for p in app.get("portDefinitions", [])],
            "slaveId": "standin-agent-S1", "stagedAt": self.now(), "startedAt": None, "version": app["version"],
            "ipAddresses": [{"ipAddress": "127.0.0.1", "protocol": "IPv4"}], "localVolumes": [],
            "region": "standin", "zone": "a", "role": app.get("role", self.mesos_role),
        }

    def task_view(self, task, app):
        out = {k: v for k, v in task.items() if v is not None and not k.startswith("_")}
        if task.get("_mesos"):
            if app.get("healthChecks") and task["state"] == "TASK_RUNNING":
                out["healthCheckResults"] = [dict(result) for result in task.get("_health", [])]
            return out
        if app.get("healthChecks") and task["state"] == "TASK_RUNNING":
            alive = app["id"] not in self.unhealthy
            result = {"alive": alive, "consecutiveFailures": 0 if alive else 3, "instanceId": task["id"]}
            if alive:
                result.update(firstSuccess=task["startedAt"], lastSuccess=task["startedAt"])
            else:
                result.update(lastFailure=self.now(), lastFailureCause="stand-in: marked unhealthy")
            out["healthCheckResults"] = [dict(result) for _check in app["healthChecks"]]
        return out

    def new_deployment(self, actions, originals, forced=False):
        dep_id = str(uuid.uuid4())
        finish_at = time.time() + self.deploy_seconds
        dep = Deployment(dep_id, self.now(), actions, finish_at, originals, forced)
        if actions:
            self.deployments[dep_id] = dep
            for action, app_id in actions:
                if action in ("StartApplication", "ScaleApplication") and app_id in self.apps:
                    want = self.apps[app_id]["instances"]
                    have = self.tasks.setdefault(app_id, [])
                    while len(have) < want:
                        have.append(self.new_task(self.apps[app_id]))
        LOG.info("deployment %s started: %s", dep_id, ", ".join("%s %s" % a for a in actions) or "empty plan")
        return dep

    def conflicts(self, app_ids):
        ids = set(app_ids)
        return [d for d in self.deployments.values() if ids & set(d.affected())]

    def check_lock(self, app_ids, force):
        blocking = self.conflicts(app_ids)
        if not blocking:
            return
        if force:
            for dep in blocking:
                LOG.info("deployment %s cancelled by a forced change", dep.id)
                self.deployments.pop(dep.id, None)
            return
        raise ApiError(409, {
            "message": "App is locked by one or more deployments. Override with the option '?force=true'. "
                       "View details at '/v2/deployments/%s'." % blocking[0].id,
            "deployments": [{"id": d.id} for d in blocking],
        })

    def check_capacity(self):
        if len(self.deployments) >= self.max_running_deployments:
            raise ApiError(403, {"message": "Max number (%d) of running deployments is achieved. Wait for "
                                            "existing deployments to complete or cancel them." %
                                            self.max_running_deployments})

    def alloc_port(self):
        port = 10000
        while port in self.ports:
            port += 1
        if port > 20000:
            raise ApiError(422, {"message": "requirement failed: no free service port left"})
        self.ports.add(port)
        return port

    # -- groups --------------------------------------------------------------------------------------------
    def ensure_groups(self, app_id):
        for gid in ancestors(app_id):
            self.groups.setdefault(gid, {"dependencies": [], "version": self.now()})

    def group_exists(self, gid):
        return gid in self.groups

    def group_nonempty(self, gid):
        return any(is_under(a, gid) and a != gid for a in self.apps) or any(
            g != gid and is_under(g, gid) for g in self.groups)

    # -- apps ------------------------------------------------------------------------------------------------
    def normalise_app(self, raw, app_id, previous=None):
        """The stored definition of an app as Marathon 1.10 would keep it: deprecated forms migrated, defaults
        filled in, port 0 replaced. ``previous`` is the current definition (its service ports are kept)."""
        check_types(raw)
        app = {k: copy.deepcopy(v) for k, v in raw.items() if k in APP_FIELDS and v is not None}
        app.pop("version", None)
        app["id"] = app_id
        errors = []
        # deprecated input, migrated and never written back
        if "uris" in app:
            uris = app.pop("uris")
            app.setdefault("fetch", [{"uri": u, "extract": self._extractable(u), "executable": False, "cache": False}
                                     for u in uris])
        if "ports" in app:
            ports = app.pop("ports")
            app.setdefault("portDefinitions", [{"port": p, "protocol": "tcp"} for p in ports])
        container = app.get("container")
        if "ipAddress" in app:
            ip = app.pop("ipAddress") or {}
            net = {"mode": "container"}
            if ip.get("networkName"):
                net["name"] = ip["networkName"]
            if ip.get("labels"):
                net["labels"] = ip["labels"]
            app.setdefault("networks", [net])
        if isinstance(container, dict) and isinstance(container.get("docker"), dict):
            docker = container["docker"]
            mode = docker.pop("network", None)
            if mode:
                app.setdefault("networks", [{"mode": {"HOST": "host", "BRIDGE": "container/bridge"}.get(
                    mode, "container")}])
            if "portMappings" in docker:
                container.setdefault("portMappings", docker.pop("portMappings"))
        # semantic validation
        if not (app.get("cmd") or app.get("args") or app.get("container")):
            errors.append({"path": "/", "errors": [NO_COMMAND]})
        if app.get("cmd") and app.get("args"):
            errors.append({"path": "/", "errors": [NO_COMMAND]})
        for key, minimum in (("instances", 0), ("cpus", 0), ("mem", 0), ("disk", 0), ("gpus", 0),
                             ("backoffSeconds", 0), ("backoffFactor", 1), ("maxLaunchDelaySeconds", 0)):
            if key in app and app[key] < minimum:
                errors.append({"path": "/" + key, "errors": ["got %s, expected %s or more" % (app[key], minimum)]})
        strategy = app.get("upgradeStrategy") or {}
        for key in ("minimumHealthCapacity", "maximumOverCapacity"):
            value = strategy.get(key)
            if isinstance(value, (int, float)) and value > 1:
                errors.append({"path": "/upgradeStrategy/" + key, "errors": ["is greater than 1"]})
            if isinstance(value, (int, float)) and value < 0:
                errors.append({"path": "/upgradeStrategy/" + key, "errors": ["is less than 0"]})
        if app.get("killSelection", "YOUNGEST_FIRST") not in ("YOUNGEST_FIRST", "OLDEST_FIRST"):
            errors.append({"path": "/killSelection", "errors": ["error.unknown.enum.literal"]})
        for i, constraint in enumerate(app.get("constraints", [])):
            if not isinstance(constraint, list) or len(constraint) < 2 or constraint[1] not in CONSTRAINT_OPERATORS:
                errors.append({"path": "/constraints(%d)" % i, "errors": [
                    "Constraint operator must be one of the following: [%s]" % ", ".join(CONSTRAINT_OPERATORS)]})
        for i, check in enumerate(app.get("healthChecks", [])):
            if not isinstance(check, dict) or check.get("protocol", "HTTP") not in PORTED_PROTOCOLS + ("COMMAND",):
                errors.append({"path": "/healthChecks(%d)/protocol" % i, "errors": ["error.unknown.enum.literal"]})
        if errors:
            raise invalid(errors)
        # defaults
        for key, value in APP_DEFAULTS.items():
            app.setdefault(key, copy.deepcopy(value))
        for key in FLOAT_FIELDS:
            app[key] = float(app[key])
        app.setdefault("upgradeStrategy", {})
        app["upgradeStrategy"] = dict({"minimumHealthCapacity": 1, "maximumOverCapacity": 1}, **app["upgradeStrategy"])
        app.setdefault("unreachableStrategy", {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0})
        app.setdefault("role", self.mesos_role)
        app.setdefault("networks", [{"mode": "host"}])
        if app.get("dependencies"):
            app["dependencies"] = [path_id(d, parent_of(app_id), "/dependencies") for d in app["dependencies"]]
        used = {p.get("port") for p in (previous or {}).get("portDefinitions", [])}
        host_mode = all(n.get("mode", "container") == "host" for n in app["networks"])
        if host_mode:
            if "portDefinitions" not in app:
                app["portDefinitions"] = [{"port": 0, "name": "default", "protocol": "tcp"}]
            for pd in app["portDefinitions"]:
                pd.setdefault("protocol", "tcp")
                if not pd.get("port"):
                    pd["port"] = self.alloc_port()
                elif pd["port"] not in used:
                    self.ports.add(pd["port"])
        else:
            if app.get("portDefinitions"):
                raise invalid([{"path": "/portDefinitions", "errors": [
                    "Port definitions are only allowed with host networking"]}])
            app.pop("portDefinitions", None)
            for pm in (container or {}).get("portMappings", []):
                pm.setdefault("containerPort", 0)
                pm.setdefault("protocol", "tcp")
                if any(n.get("mode") == "container/bridge" for n in app["networks"]):
                    pm.setdefault("hostPort", 0)
                if not pm.get("servicePort"):
                    pm["servicePort"] = self.alloc_port()
        for check in app.get("healthChecks", []):
            for key, value in HEALTH_DEFAULTS.items():
                check.setdefault(key, value)
            check.setdefault("protocol", "HTTP")
            if check["protocol"] in PORTED_PROTOCOLS and "port" not in check:
                check.setdefault("portIndex", 0)
        for check in app.get("readinessChecks", []):
            check.setdefault("name", "readinessCheck")
            check.setdefault("protocol", "HTTP")
            check.setdefault("path", "/")
            check.setdefault("portName", "http-api")
            check.setdefault("intervalSeconds", 30)
            check.setdefault("timeoutSeconds", 10)
            check.setdefault("httpStatusCodesForReady", [200])
            check.setdefault("preserveLastResponse", False)
        for item in app.get("fetch", []):
            item.setdefault("extract", self._extractable(item.get("uri", "")))
            item.setdefault("executable", False)
            item.setdefault("cache", False)
        for key in SET_FIELDS:
            if key in app:
                app[key] = _set_order(app[key])
        for key in OMIT_EMPTY:
            if key in app and not app[key]:
                del app[key]
        return app

    @staticmethod
    def _extractable(uri):
        return uri.endswith((".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"))

    @staticmethod
    def config_of(app):
        return {k: v for k, v in app.items() if k not in ("version", "versionInfo")}

    def store(self, app, previous, restart=False):
        """Store a normalised app; returns the deployment action, or None when nothing changed."""
        now = self.now()
        if previous is None:
            app["version"] = now
            app["versionInfo"] = {"lastScalingAt": now, "lastConfigChangeAt": now}
            action = "StartApplication"
        else:
            old, new = self.config_of(previous), self.config_of(app)
            if old == new and not restart:
                return None
            changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
            info = dict(previous["versionInfo"])
            if restart:  # /restart: only version and lastConfigChangeAt move
                info["lastConfigChangeAt"] = now
                action = "RestartApplication"
            elif changed - {"instances"}:  # a config change: everything moves
                info["lastConfigChangeAt"] = info["lastScalingAt"] = now
                action = "RestartApplication"
            else:  # only instances: lastConfigChangeAt stays
                info["lastScalingAt"] = now
                action = "ScaleApplication"
            app["version"] = now
            app["versionInfo"] = info
        self.apps[app["id"]] = app
        self.versions.setdefault(app["id"], {})[app["version"]] = copy.deepcopy(app)
        self.ensure_groups(app["id"])
        return action

    def app_info(self, app, tasks=True, counts=True):
        out = copy.deepcopy(self.config_of(app))
        out["version"] = app["version"]
        if "versionInfo" in app:
            out["versionInfo"] = dict(app["versionInfo"])
        task_list = [self.task_view(t, app) for t in self.tasks.get(app["id"], [])]
        if counts:
            healthy = sum(1 for t in task_list if t.get("healthCheckResults")
                          and all(h["alive"] for h in t["healthCheckResults"]))
            unhealthy = sum(1 for t in task_list if t.get("healthCheckResults")
                            and not all(h["alive"] for h in t["healthCheckResults"]))
            out["tasksStaged"] = sum(1 for t in task_list if t["state"] == "TASK_STAGING")
            out["tasksRunning"] = sum(1 for t in task_list if t["state"] == "TASK_RUNNING")
            out["tasksHealthy"] = healthy
            out["tasksUnhealthy"] = unhealthy
            out["deployments"] = [{"id": d.id} for d in self.deployments.values() if app["id"] in d.affected()]
        if tasks:
            out["tasks"] = task_list
        return out

    def group_info(self, gid, embed_counts=False):
        direct_apps = sorted(a for a in self.apps if parent_of(a) == gid)
        direct_groups = sorted(g for g in self.groups if g != gid and g != "/" and parent_of(g) == gid)
        group = self.groups[gid]
        out = {
            "id": gid,
            "apps": [self.app_info(self.apps[a], tasks=False, counts=embed_counts) for a in direct_apps],
            "groups": [self.group_info(g, embed_counts) for g in direct_groups],
            "pods": [],
            "dependencies": list(group["dependencies"]),
            "version": group["version"],
        }
        if gid != "/" and parent_of(gid) == "/":
            out["enforceRole"] = bool(group.get("enforceRole", False))
        return out


def _truthy(query, name, default):
    values = query.get(name)
    if not values:
        return default
    return values[-1].lower() == "true"


def _parse_label_selector(selector):
    """Marathon's label selector: comma separated requirements `k`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`."""
    reqs, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            reqs.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        reqs.append(current.strip())
    parsed = []
    for req in reqs:
        m = re.match(r"^([\w.\-/\\]+)\s+(in|notin)\s+\((.*)\)$", req)
        if m:
            parsed.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]))
            continue
        m = re.match(r"^([\w.\-/\\]+)\s*(==|!=)\s*(.*)$", req)
        if m:
            parsed.append((m.group(1), m.group(2), [m.group(3).strip()]))
            continue
        if re.match(r"^[\w.\-/\\]+$", req):
            parsed.append((req, "exists", []))
            continue
        raise ApiError(400, {"message": "Can not parse label selector %s" % selector})
    return parsed


def _label_match(labels, parsed):
    for key, op, values in parsed:
        if op == "exists" and key not in labels:
            return False
        if op in ("==", "in") and labels.get(key) not in values:
            return False
        if op in ("!=", "notin") and labels.get(key) in values:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    server_version = "marathon-standin/" + MARATHON_VERSION
    protocol_version = "HTTP/1.1"

    # -- plumbing ------------------------------------------------------------------------------------------------
    def log_message(self, fmt, *args):  # noqa: A003 - BaseHTTPRequestHandler API
        LOG.info("%s %s", self.address_string(), fmt % args)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    @property
    def standin(self):
        return self.server.standin

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body=None, headers=None, text=None, content_type="application/json; charset=utf-8"):
        if text is not None:
            payload = text.encode("utf-8")
        elif body is None:
            payload = b""
        else:
            payload = json.dumps(body).encode("utf-8")
        if getattr(self, "_log_entry", None) is not None:
            self._log_entry["status"] = status
        self.send_response(status)
        if payload or text is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.standin.is_leader():
            self.send_header("X-Marathon-Leader", self.standin.self_url())
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def json_body(self, raw):
        if not raw.strip():
            raise ApiError(400, {"message": "Invalid JSON", "details": "No content to map due to end-of-input"})
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, {"message": "Invalid JSON", "details": str(exc)})

    def dispatch(self, method):
        self._log_entry = None
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        prefix = self.standin.prefix
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            path = path[len(prefix):] or "/"
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        raw = self.read_body()
        try:
            if path.startswith("/_test/"):
                return self.test_endpoint(method, path, raw)
            state = self.standin.state
            self._log_entry = {"method": method, "path": path, "query": parsed.query, "time": time.time()}
            with state.lock:
                state.requests.append(self._log_entry)
            self.authenticate()
            with state.lock:
                if state.fail["count"] > 0:
                    state.fail["count"] -= 1
                    status = state.fail["status"]
                    if status == 502:
                        raise ApiError(502, text="Could not determine the current leader")
                    raise ApiError(status, {"message": "stand-in: injected failure %d" % status})
            if path.startswith("/v2/") and not self.standin.is_leader():
                return self.proxy(method, raw)
            status, body, headers = self.route(method, path, query, raw)
            if method not in ("GET", "HEAD") and status < 400:
                self.standin.persist()  # the change survives a failover before it is acknowledged
            if isinstance(body, str):
                content_type = headers.pop("Content-Type", "text/plain; charset=utf-8")
                self.send(status, text=body, headers=headers, content_type=content_type)
            else:
                self.send(status, body, headers)
        except ApiError as err:
            if err.text is not None:
                self.send(err.status, text=err.text, headers=err.headers, content_type="text/html; charset=utf-8")
            else:
                self.send(err.status, err.body, err.headers)
        except Exception as exc:  # pragma: no cover - a bug in the stand-in must still answer
            LOG.exception("stand-in bug")
            self.send(500, {"message": "stand-in internal error: %s" % exc})

    def authenticate(self):
        standin = self.standin
        header = self.headers.get("Authorization") or ""
        if standin.token and header.startswith("token="):
            if header[len("token="):] == standin.token:
                return
            raise ApiError(401, {"message": "Invalid username or password."})
        if standin.username is not None:
            expected = "Basic " + base64.b64encode(
                ("%s:%s" % (standin.username, standin.password)).encode("utf-8")).decode("ascii")
            if header == expected:
                return
            raise ApiError(401, text="<html><body><h2>HTTP ERROR 401</h2><p>Problem accessing %s. Reason:"
                                     "<pre>    Unauthorized</pre></p></body></html>" % self.path,
                           headers={"WWW-Authenticate": 'basic realm="Mesosphere"'})
        if standin.token:
            raise ApiError(401, {"message": "Invalid username or password."})

    def proxy(self, method, raw):
        leader = self.standin.leader_url
        if not leader:
            raise ApiError(502, text="Could not determine the current leader")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("authorization", "content-type", "accept")}
        req = urllib.request.Request(leader.rstrip("/") + self.path, data=raw or None, headers=headers,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, body, resp_headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, body, resp_headers = err.code, err.read(), err.headers
        except (urllib.error.URLError, OSError):
            raise ApiError(502, text="Could not determine the current leader")
        self._log_entry["status"] = status
        self.send_response(status)
        for key in ("Content-Type", "Location", "Marathon-Deployment-Id", "X-Marathon-Leader", "WWW-Authenticate"):
            if resp_headers.get(key):
                self.send_header(key, resp_headers.get(key))
        self.send_header("X-Marathon-Via", "%s %s" % (self.protocol_version, self.standin.self_url()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- test-only endpoints -----------------------------------------------------------------------------------
    def test_endpoint(self, method, path, raw):
        state = self.standin.state
        with state.lock:
            if path == "/_test/requests" and method == "GET":
                return self.send(200, {"count": len(state.requests), "requests": state.requests})
            if path == "/_test/requests" and method == "DELETE":
                state.requests = []
                return self.send(204)
            if path == "/_test/config" and method == "POST":
                conf = json.loads(raw or b"{}")
                if "deploy_seconds" in conf:
                    state.deploy_seconds = float(conf["deploy_seconds"])
                if "stick" in conf:
                    state.stick = bool(conf["stick"])
                if "unhealthy" in conf:
                    state.unhealthy = set(conf["unhealthy"])
                if "fail" in conf:
                    state.fail = {"status": int(conf["fail"]["status"]), "count": int(conf["fail"]["count"])}
                if "leader" in conf:
                    self.standin.no_leader = not conf["leader"]
                state.tick()
                return self.send(200, {"deploy_seconds": state.deploy_seconds, "stick": state.stick,
                                       "unhealthy": sorted(state.unhealthy), "fail": state.fail})
            if path == "/_test/finish" and method == "POST":
                for dep in list(state.deployments.values()):
                    state.finish(dep)
                return self.send(200, {"finished": True})
            if path == "/_test/state" and method == "GET":
                return self.send(200, {"apps": state.apps, "deployments": [d.to_json() for d in
                                                                           state.deployments.values()],
                                       "groups": state.groups, "tasks": state.tasks})
        raise ApiError(404, {"message": "unknown test endpoint %s (%s)" % (path, BANNER)})

    # -- Marathon API ---------------------------------------------------------------------------------------
    def route(self, method, path, query, raw):
        state = self.standin.state
        if path == "/ping":
            return self.ping()
        with state.lock:
            state.tick()
            if path in ("/v2/info", "/v2/info/"):
                return 200, self.standin.info(), {}
            if path == "/v2/leader":
                return self.leader(method)
            if path in ("/v2/apps", "/v2/apps/"):
                return self.apps_collection(method, query, raw)
            if path.startswith("/v2/apps/"):
                return self.apps_item(method, path[len("/v2/apps"):], query, raw)
            if path in ("/v2/deployments", "/v2/deployments/"):
                if method != "GET":
                    raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})
                return 200, [d.to_json() for d in state.deployments.values()], {}
            if path.startswith("/v2/deployments/"):
                return self.deployment_item(method, path[len("/v2/deployments/"):], query)
            if path == "/v2/groups" or path.startswith("/v2/groups/"):
                return self.groups(method, path[len("/v2/groups"):] or "/", query, raw)
            if path == "/v2/tasks" and method == "GET":
                return 200, {"tasks": [state.task_view(t, state.apps[a]) for a in sorted(state.tasks)
                                       if a in state.apps for t in state.tasks[a]]}, {}
        raise ApiError(404, {"message": "HTTP 404 Not Found"})

    def ping(self):
        accept = self.headers.get("Accept") or "text/plain"
        kinds = [a.split(";")[0].strip() for a in accept.split(",")]
        for kind in kinds:
            if kind in ("text/plain", "text/*", "*/*", "text/html"):
                return 200, "pong", {"Cache-Control": "must-revalidate,no-cache,no-store"}
            if kind == "application/json":
                return 200, json.dumps("pong"), {"Content-Type": "application/json"}
        return 204, None, {}

    def leader(self, method):
        if method == "GET":
            return 200, {"leader": self.standin.leader_hostport()}, {}
        if method == "DELETE":
            self.standin.abdicate()
            return 200, {"message": "Leadership abdicated"}, {}
        raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})

    @staticmethod
    def deployment_result(dep, status=200, location=None):
        headers = {"Marathon-Deployment-Id": dep.id}
        if location:
            headers["Location"] = location
        return status, {"deploymentId": dep.id, "version": dep.version}, headers

    def apps_collection(self, method, query, raw):
        state = self.standin.state
        if method == "GET":
            embeds = {e.split(".")[-1] for e in query.get("embed", [])}
            id_filter = (query.get("id") or [""])[-1].lower()
            cmd_filter = (query.get("cmd") or [""])[-1].lower()
            selector = _parse_label_selector((query.get("label") or [""])[-1]) if query.get("label") else []
            apps = []
            for app_id in sorted(state.apps):
                app = state.apps[app_id]
                if id_filter and id_filter not in app_id.lower():
                    continue
                if cmd_filter and cmd_filter not in (app.get("cmd") or "").lower():
                    continue
                if selector and not _label_match(app.get("labels", {}), selector):
                    continue
                apps.append(state.app_info(app, tasks=bool(embeds & {"tasks", "failures"})))
            return 200, {"apps": apps}, {}
        if method == "POST":
            body = self.json_body(raw)
            check_types(body)
            if "id" not in body:
                raise invalid([{"path": "/id", "errors": ["error.path.missing"]}], "Invalid JSON")
            app_id = path_id(body["id"])
            self.check_app_id(app_id)
            if app_id in state.apps:
                raise ApiError(409, {"message": "An app with id [%s] already exists." % app_id})
            state.check_lock([app_id], _truthy(query, "force", False))
            state.check_capacity()
            app = state.normalise_app(body, app_id)
            state.store(app, None)
            dep = state.new_deployment([("StartApplication", app_id)], {app_id: None})
            out = state.app_info(app, tasks=False)
            out.pop("versionInfo", None)
            out["tasksStaged"] = out["tasksRunning"] = out["tasksHealthy"] = out["tasksUnhealthy"] = 0
            out["deployments"] = [{"id": dep.id}]
            return 201, out, {"Location": app_id, "Marathon-Deployment-Id": dep.id}
        if method == "PUT":
            body = self.json_body(raw)
            if not isinstance(body, list):
                raise invalid([{"path": "/", "errors": ["error.expected.jsarray"]}], "Invalid JSON")
            force, partial = _truthy(query, "force", False), _truthy(query, "partialUpdate", True)
            ids = []
            for i, item in enumerate(body):
                if not isinstance(item, dict) or "id" not in item:
                    raise invalid([{"path": "(%d)/id" % i, "errors": ["error.path.missing"]}], "Invalid JSON")
                ids.append(path_id(item["id"]))
            state.check_lock(ids, force)
            state.check_capacity()
            actions, originals = [], {}
            for app_id, item in zip(ids, body):
                action = self.put_one(app_id, item, partial, originals)
                if action:
                    actions.append((action, app_id))
            return self.deployment_result(state.new_deployment(actions, originals))
        raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})

    def check_app_id(self, app_id):
        state = self.standin.state
        if app_id == "/" or app_id.rsplit("/", 1)[-1] in RESERVED_LAST_SEGMENTS:
            raise invalid([{"path": "/id", "errors": [ID_ERROR]}])
        if app_id in state.groups and state.group_nonempty(app_id):
            raise invalid([{"path": "/id", "errors": ["Groups and Applications may not have the same identifier."]}])

    def put_one(self, app_id, body, partial, originals, restart=False):
        """Create or update one app (PUT semantics). Returns the deployment action or None (no change)."""
        state = self.standin.state
        check_types(body)
        self.check_app_id(app_id)
        current = state.apps.get(app_id)
        originals[app_id] = copy.deepcopy(current)
        if "version" in body:
            if set(body) - {"id", "version"}:
                raise invalid([{"path": "/", "errors": ["The 'version' field may only be combined with the 'id' "
                                                        "field."]}])
            old = state.versions.get(app_id, {}).get(body["version"])
            if old is None:
                raise ApiError(404, {"message": "Version %s of app %s does not exist" % (body["version"], app_id)})
            wanted = copy.deepcopy(state.config_of(old))
            return state.store(state.normalise_app(wanted, app_id, current), current)
        if current is None or not partial:
            merged = dict(body)
        else:
            merged = copy.deepcopy(state.config_of(current))
            merged.update({k: v for k, v in body.items() if k != "id"})
        app = state.normalise_app(merged, app_id, current)
        return state.store(app, current, restart=restart)

    def find_app(self, app_id):
        app = self.standin.state.apps.get(app_id)
        if app is None:
            raise ApiError(404, {"message": "App '%s' does not exist" % app_id})
        return app

    def apps_item(self, method, rest, query, raw):
        state = self.standin.state
        force = _truthy(query, "force", False)
        if rest.endswith("/*") and method == "GET":
            gid = path_id(rest[:-2] or "/")
            return 200, {"*": [state.app_info(state.apps[a]) for a in sorted(state.apps) if is_under(a, gid)
                               and a != gid]}, {}
        versioned = re.match(r"^(.*)/versions/([^/]+)$", rest)
        suffix = next((s for s in ("/restart", "/tasks", "/versions") if rest.endswith(s)), "")
        if versioned:
            version = versioned.group(2)
            app = self.find_app(path_id(versioned.group(1)))
            stored = state.versions.get(app["id"], {}).get(version)
            if stored is None:
                raise ApiError(404, {"message": "App '%s' does not exist in version %s" % (app["id"], version)})
            return 200, state.app_info(stored, tasks=False, counts=False), {}
        app_id = path_id(rest[: len(rest) - len(suffix)] if suffix else rest)
        if suffix == "/restart":
            if method != "POST":
                raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})
            app = self.find_app(app_id)
            state.check_lock([app_id], force)
            state.check_capacity()
            originals = {app_id: copy.deepcopy(app)}
            state.store(copy.deepcopy(state.config_of(app)), app, restart=True)
            return self.deployment_result(state.new_deployment([("RestartApplication", app_id)], originals))
        if suffix == "/tasks":
            app = self.find_app(app_id)
            if method == "GET":
                return 200, {"tasks": [state.task_view(t, app) for t in state.tasks.get(app_id, [])]}, {}
            if method == "DELETE":
                killed = state.tasks.pop(app_id, [])
                if _truthy(query, "scale", False):
                    scaled = dict(state.config_of(app), instances=0)
                    action = state.store(scaled, app)
                    return self.deployment_result(state.new_deployment([(action, app_id)] if action else [],
                                                                       {app_id: app}))
                state.reconcile_tasks(app_id)
                return 200, {"tasks": [state.task_view(t, app) for t in killed]}, {}
            raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})
        if suffix == "/versions":
            app = self.find_app(app_id)
            return 200, {"versions": sorted(state.versions.get(app_id, {}), reverse=True)}, {}
        if method == "GET":
            app = self.find_app(app_id)
            return 200, {"app": state.app_info(app, tasks=True)}, {}
        if method in ("PUT", "PATCH"):
            body = self.json_body(raw)
            check_types(body)
            exists = app_id in state.apps
            if method == "PATCH" and not exists:
                self.find_app(app_id)
            partial = True if method == "PATCH" else _truthy(query, "partialUpdate", True)
            state.check_lock([app_id], force)
            state.check_capacity()
            originals = {}
            action = self.put_one(app_id, body, partial, originals)
            dep = state.new_deployment([(action, app_id)] if action else [], originals)
            return self.deployment_result(dep, 200 if exists else 201, None if exists else app_id)
        if method == "DELETE":
            app = self.find_app(app_id)
            state.check_lock([app_id], _truthy(query, "force", True))  # force defaults to TRUE here
            state.check_capacity()
            del state.apps[app_id]
            for pd in app.get("portDefinitions", []):
                state.ports.discard(pd.get("port"))
            return self.deployment_result(state.new_deployment([("StopApplication", app_id)], {app_id: app}))
        raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})

    def deployment_item(self, method, dep_id, query):
        state = self.standin.state
        dep = state.deployments.get(dep_id.strip("/"))
        if method != "DELETE":
            raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})
        if dep is None:
            raise ApiError(404, {"message": "DeploymentPlan %s does not exist" % dep_id.strip("/")})
        state.deployments.pop(dep.id)
        LOG.info("deployment %s cancelled", dep.id)
        if _truthy(query, "force", False):
            return 202, None, {}
        actions = []
        for app_id, original in dep.originals.items():
            current = state.apps.get(app_id)
            if original is None:
                if current is not None:
                    del state.apps[app_id]
                    actions.append(("StopApplication", app_id))
            else:
                restored = copy.deepcopy(original)
                state.apps[app_id] = restored
                actions.append(("RestartApplication", app_id))
        rollback = state.new_deployment(actions, {}, forced=True)
        return self.deployment_result(rollback)

    def groups(self, method, rest, query, raw):
        state = self.standin.state
        force = _truthy(query, "force", False)  # force defaults to FALSE for groups
        gid = path_id(rest or "/", field="/id")
        if method == "GET":
            if gid not in state.groups:
                raise ApiError(404, {"message": "Group '%s' does not exist" % gid})
            embeds = {e.split(".")[-1] for e in query.get("embed", [])}
            return 200, state.group_info(gid, embed_counts=bool(embeds & {"counts", "tasks", "deployments"})), {}
        if method in ("POST", "PUT"):
            body = self.json_body(raw)
            if not isinstance(body, dict):
                raise invalid([{"path": "/", "errors": ["error.expected.jsobject"]}], "Invalid JSON")
            if method == "POST":
                gid = path_id(body.get("id", ""), gid if rest not in ("", "/") else "/")
                if gid in state.apps:
                    raise ApiError(409, {"message": "An app with the path %s already exists." % gid})
                if gid in state.groups and gid != "/":
                    raise ApiError(409, {"message": "Group %s is already created. Use PUT to change this group."
                                                    % gid})
            return self.update_group(gid, body, force, _truthy(query, "dryRun", False),
                                     201 if method == "POST" or gid not in state.groups else 200)
        if method == "DELETE":
            if gid not in state.groups:
                raise ApiError(404, {"message": "Group '%s' does not exist" % gid})
            victims = [a for a in state.apps if is_under(a, gid)]
            state.check_lock(victims, force)
            originals = {}
            for app_id in victims:
                originals[app_id] = state.apps.pop(app_id)
            for g in [g for g in state.groups if is_under(g, gid) and g != "/"]:
                del state.groups[g]
            if gid == "/":
                state.groups["/"]["version"] = state.now()
            return self.deployment_result(state.new_deployment([("StopApplication", a) for a in sorted(victims)],
                                                               originals))
        raise ApiError(405, {"message": "HTTP 405 Method Not Allowed"})

    def update_group(self, gid, body, force, dry_run, status):
        state = self.standin.state
        apps_in = body.get("apps")
        changes = {}  # app id -> body (None: remove)
        if "scaleBy" in body:
            for app_id in [a for a in state.apps if is_under(a, gid)]:
                changes[app_id] = dict(state.config_of(state.apps[app_id]),
                                       instances=int(math.ceil(state.apps[app_id]["instances"] * body["scaleBy"])))
        if apps_in is not None:
            listed = {}
            for i, app in enumerate(apps_in):
                if not isinstance(app, dict) or "id" not in app:
                    raise invalid([{"path": "/apps(%d)/id" % i, "errors": ["error.path.missing"]}], "Invalid JSON")
                app_id = path_id(app["id"], gid)
                if not is_under(app_id, gid) or app_id == gid:
                    raise invalid([{"path": "/apps(%d)/id" % i, "errors": [
                        "identifier %s is not child of %s. Hint: use relative paths." % (app_id, gid)]}])
                listed[app_id] = app
            for app_id in state.apps:
                if parent_of(app_id) == gid and app_id not in listed:
                    changes[app_id] = None  # apps missing from a group PUT are removed
            changes.update(listed)
        state.check_lock(list(changes), force)
        if dry_run:
            steps = [{"actions": [{"action": "StopApplication" if b is None else (
                "RestartApplication" if a in state.apps else "StartApplication"), "app": a}]}
                for a, b in sorted(changes.items())]
            return 200, {"steps": steps}, {}
        state.check_capacity()
        group = state.groups.get(gid)
        if group is None:
            state.ensure_groups(gid + "/x")
            group = state.groups.setdefault(gid, {"dependencies": [], "version": state.now()})
        if "dependencies" in body:
            group["dependencies"] = [path_id(d, parent_of(gid), "/dependencies") for d in body["dependencies"] or []]
        if "enforceRole" in body:
            group["enforceRole"] = bool(body["enforceRole"])
        actions, originals = [], {}
        for app_id, app_body in sorted(changes.items()):
            if app_body is None:
                originals[app_id] = state.apps.pop(app_id)
                actions.append(("StopApplication", app_id))
                continue
            action = self.put_one(app_id, app_body, False, originals)
            if action:
                actions.append((action, app_id))
        group["version"] = state.now()
        dep = state.new_deployment(actions, originals)
        return self.deployment_result(dep, status)


class MarathonStandin:
    """The stand-in server: ``MarathonStandin(port=0).start()`` in tests, ``main()`` from the command line."""

    def __init__(self, host="127.0.0.1", port=0, hostname=None, zk="zk://localhost:2181/marathon",
                 master="zk://localhost:2181/mesos", leader_url=None, no_leader=False, deploy_seconds=1.0,
                 username=None, password=None, token=None, prefix="", mesos_role="*",
                 marathon_version=MARATHON_VERSION, tls_cert=None, tls_key=None, run_on_mesos=False, elect=False):
        self.state = State(deploy_seconds=deploy_seconds, mesos_role=mesos_role)
        self.state.on_mesos = run_on_mesos
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.scheme = "http"
        if tls_cert:  # HTTPS with a PEM certificate (and key), like Marathon's --https_port
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_cert, tls_key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.server.daemon_threads = True
        self.server.standin = self
        self.host, self.port = self.server.server_address[:2]
        self.hostname = hostname or host
        self.zk, self.master = zk, master
        self.leader_url = leader_url
        self.no_leader = no_leader
        self.username, self.password, self.token = username, password, token
        self.prefix = prefix.rstrip("/")
        self.marathon_version = marathon_version
        self.framework_id = framework_id_for(zk)
        self.scheduler = None
        self.election = Election(self, zk) if elect else None
        self._abdicated_until = 0.0
        self._thread = None

    @property
    def url(self):
        return "%s://%s:%d%s" % (self.scheme, self.host, self.port, self.prefix)

    def self_url(self):
        return "%s://%s:%d" % (self.scheme, self.hostname, self.port)

    def is_leader(self):
        return not self.leader_url and not self.no_leader and time.time() >= self._abdicated_until

    def leader_hostport(self):
        if self.is_leader():
            return "%s:%d" % (self.hostname, self.port)
        if self.leader_url:
            return urllib.parse.urlsplit(self.leader_url).netloc
        raise ApiError(404, {"message": "There is no leader"})

    def abdicate(self):
        if self.election is not None:
            self.election.abdicate()
            return
        self._abdicated_until = time.time() + 1.0

    def persist(self):
        """After a change: the elected leader writes its state to ZooKeeper for the next leader."""
        if self.election is not None and self.election.leading:
            try:
                self.election.save()
            except Exception as exc:  # pylint: disable=broad-except  # the election loop retries every second
                LOG.info("could not write the state to ZooKeeper yet: %s", exc)

    def info(self):
        return {
            # "name" stays "marathon" for clients that check it; buildref and "standin" say what this really is.
            "name": "marathon", "version": self.marathon_version, "buildref": "shepherd-standin",
            "standin": BANNER,
            "elected": self.is_leader(), "leader": self.leader_hostport(), "frameworkId": self.framework_id,
            "marathon_config": {
                "checkpoint": True, "executor": "//cmd", "failover_timeout": 604800, "features": [],
                "framework_name": "marathon", "ha": True, "hostname": self.hostname, "leader_proxy_connection_timeout_ms": 5000,
                "leader_proxy_read_timeout_ms": 10000, "local_port_max": 20000, "local_port_min": 10000,
                "master": self.master, "max_instances_per_offer": 5, "mesos_role": self.state.mesos_role,
                "mesos_user": "root", "webui_url": None, "max_running_deployments":
                    self.state.max_running_deployments,
            },
            "zookeeper_config": {"zk": self.zk, "zk_compression": True, "zk_compression_threshold": 65536,
                                 "zk_connection_timeout": 10000, "zk_max_node_size": 1024000,
                                 "zk_max_versions": 50, "zk_session_timeout": 10000, "zk_timeout": 10000},
            "http_config": {"http_port": self.port, "https_port": 8443},
        }

    def start(self):
        self.start_background()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="marathon-standin", daemon=True)
        self._thread.start()
        return self

    def start_background(self):
        """The leader election (with elect) and the framework loop that runs DOCKER apps on Mesos (with
        run_on_mesos)."""
        if self.election is not None and not self.election.stopping.is_set() and self.election.client is None:
            self.election.start()
        if self.state.on_mesos and self.scheduler is None:
            self.scheduler = MesosScheduler(self, self.master).start()

    def stop(self):
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.election is not None:
            self.election.stop()
        self.server.shutdown()
        self.server.server_close()


def _env_default(name, default=None):
    """Real Marathon also reads every flag from MARATHON_<FLAG> in the environment (the docker image relies on it)."""
    return os.environ.get("MARATHON_" + name.upper(), default)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="marathon_standin.py",
        description="Marathon REST API v2 stand-in (%s). Imitates Marathon %s for tests; with --master it runs "
                    "DOCKER apps' tasks on the Mesos stand-in, otherwise it simulates tasks. "
                    "Flags with underscores are Marathon's own names; MARATHON_<FLAG> environment variables are read "
                    "as Marathon reads them." % (BANNER, MARATHON_VERSION))
    parser.add_argument("--port", "--http_port", dest="port", type=int, default=int(_env_default("http_port", 8080)),
                        help="HTTP port (0: pick a free one and print it)")
    parser.add_argument("--bind", "--http_address", dest="bind", default=_env_default("http_address", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--hostname", default=_env_default("hostname"),
                        help="host name reported in /v2/info and /v2/leader")
    parser.add_argument("--zk", default=_env_default("zk", "zk://localhost:2181/marathon"),
                        help="reported as zookeeper_config.zk")
    parser.add_argument("--master", default=_env_default("master", "zk://localhost:2181/mesos"),
                        help="the Mesos master (zk://.../mesos or host:port); given, DOCKER apps run there")
    parser.add_argument("--leader-url", default=None, help="be a non-leader that proxies /v2/ to this leader")
    parser.add_argument("--no-leader", action="store_true", help="be a non-leader with no leader: /v2/ gives 502")
    parser.add_argument("--deploy-seconds", type=float, default=1.0, help="how long each deployment takes")
    parser.add_argument("--username", default=None, help="require HTTP basic auth with this user")
    parser.add_argument("--password", default=None, help="password for --username")
    parser.add_argument("--http_credentials", default=_env_default("http_credentials"),
                        help="USER:PASSWORD for HTTP basic auth, as Marathon takes it")
    parser.add_argument("--token", default=None, help="accept 'Authorization: token=TOKEN' (DC/OS style)")
    parser.add_argument("--prefix", default="", help="serve under a path prefix, e.g. /service/marathon")
    parser.add_argument("--mesos-role", "--mesos_role", dest="mesos_role", default=_env_default("mesos_role", "*"),
                        help="the role apps get by default")
    parser.add_argument("--marathon-version", default=MARATHON_VERSION, help="version reported by /v2/info")
    parser.add_argument("--tls-cert", default=None, help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert (if not in the same file)")
    args = parser.parse_args(argv)
    # Tasks run on Mesos only when a master was named (flag or MARATHON_MASTER), never with the default.
    argv_seen = sys.argv[1:] if argv is None else argv
    run_on_mesos = "MARATHON_MASTER" in os.environ or any(a.startswith("--master") for a in argv_seen)
    # Instances elect their leader through ZooKeeper when --zk (or MARATHON_ZK) is given and no fixed role is.
    elect = ("MARATHON_ZK" in os.environ or any(a.startswith("--zk") for a in argv_seen)) and not (
        args.leader_url or args.no_leader)
    if args.http_credentials and args.username is None:
        if ":" not in args.http_credentials:
            parser.error("--http_credentials must be USER:PASSWORD")
        args.username, args.password = args.http_credentials.split(":", 1)
    if (args.username is None) != (args.password is None):
        parser.error("--username and --password go together")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s marathon_standin (" + BANNER + ") %(message)s")
    standin = MarathonStandin(host=args.bind, port=args.port, hostname=args.hostname, zk=args.zk,
                              master=args.master, leader_url=args.leader_url, no_leader=args.no_leader,
                              deploy_seconds=args.deploy_seconds, username=args.username,
                              password=args.password, token=args.token, prefix=args.prefix,
                              mesos_role=args.mesos_role, marathon_version=args.marathon_version,
                              tls_cert=args.tls_cert, tls_key=args.tls_key, run_on_mesos=run_on_mesos,
                              elect=elect)
    # A clean stop leaves the leader latch at once, as Marathon's shutdown does, so another instance leads.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    standin.start_background()
    LOG.info("listening on %s:%d (leader: %s); DOCKER apps run %s", args.bind, standin.port,
             "self" if standin.is_leader() else (args.leader_url or "none"),
             ("on the Mesos master " + args.master) if run_on_mesos else "simulated (no --master given)")
    print("port %d" % standin.port, flush=True)
    try:
        standin.server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if standin.election is not None:
            standin.election.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
