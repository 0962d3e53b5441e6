"""The Marathon double's Mesos side: runs DOCKER apps' tasks on the Mesos stand-in (tests only, NOT Marathon).

Part of the Marathon STAND-IN. When the double is started with ``--master`` (or MARATHON_MASTER) as
``zk://.../mesos`` or ``host:port``, its leading instance acts as the framework: every task of an app with
``container.type: DOCKER`` is offered to the leading Mesos master stand-in (found through ZooKeeper, the
lowest ``json.info_`` node, as Marathon finds it), which places it on an agent that runs it with the docker
CLI (tests/standins/mesos/docker_tasks.py). Once a second it:

* launches the tasks still waiting (``POST /_standin/launch``; a 409 means no agent fits yet: retried);
* reads the tasks back (``GET /_standin/tasks``): host, slaveId, ports, ipAddresses, state and
  healthCheckResults of the app's task come from the agent, which really runs the container and its checks;
* kills the tasks of its framework that the double no longer has (scale down, delete, restart), and
  replaces tasks that ended (failed, lost, finished) after the app's backoffSeconds, as Marathon does.

The protocol under ``/_standin/`` is the stand-ins' own (see mesos_standin.py), never a Mesos API. Apps
without a DOCKER container keep the double's simulated tasks.
"""

import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in (HERE, os.path.join(HERE, "..", "mesos")):  # in the repository, zkclient is with the Mesos stand-in
    if _folder not in sys.path:
        sys.path.insert(0, _folder)
import zkclient  # noqa: E402  pylint: disable=wrong-import-position

LOG = logging.getLogger("marathon_standin")
TERMINAL = ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_GONE", "TASK_DROPPED")


def framework_id_for(state_url):
    """One framework id per Marathon state (ZooKeeper URL): stable across restarts and shared by HA instances,
    as Marathon keeps it in ZooKeeper."""
    return "%s-0000" % uuid.uuid5(uuid.NAMESPACE_URL, state_url or "marathon")


def is_docker_app(app):
    container = app.get("container") or {}
    return container.get("type") == "DOCKER" and bool((container.get("docker") or {}).get("image"))


def task_spec(task, app):
    """What the master and agent need to run one task of ``app`` (see mesos_standin.py, TASK)."""
    container = app.get("container") or {}
    docker = container.get("docker") or {}
    host_mode = all(n.get("mode") == "host" for n in app.get("networks", [{"mode": "host"}]))
    if host_mode:
        mappings = []
        host_ports = [pd.get("port", 0) if app.get("requirePorts") else 0 for pd in app.get("portDefinitions", [])]
    else:
        mappings = container.get("portMappings", [])
        host_ports = [pm.get("hostPort") for pm in mappings]
    return {
        "id": task["id"], "app_id": app["id"], "app_version": app["version"], "image": docker["image"],
        "cpus": app.get("cpus", 1.0), "mem": app.get("mem", 128.0), "disk": app.get("disk", 0.0),
        "cmd": app.get("cmd"), "args": app.get("args", []), "env": app.get("env", {}), "labels": app.get("labels", {}),
        "networks": app.get("networks", [{"mode": "host"}]), "parameters": docker.get("parameters", []),
        "volumes": container.get("volumes", []), "port_mappings": mappings, "host_ports": host_ports,
        "constraints": app.get("constraints", []), "health_checks": app.get("healthChecks", []),
        "kill_grace": app.get("taskKillGracePeriodSeconds", 3),
    }


class MesosScheduler:
    """The framework loop of one double instance; it acts only while ``standin.is_leader()``."""

    def __init__(self, standin, master):
        self.standin = standin
        self.state = standin.state
        self.master = master
        self.framework_id = standin.framework_id
        self.zk = None
        self.complaints = {}  # task id -> last message logged (log a refusal once, not every second)
        self._thread = None
        self.stopping = threading.Event()

    def stop(self):
        self.stopping.set()
        if self.zk is not None:
            self.zk.close()

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="mesos-scheduler", daemon=True)
        self._thread.start()
        return self

    def master_base(self):
        """http://host:port of the leading Mesos master, or None."""
        if not self.master.startswith("zk://"):
            return "http://" + self.master.split("/")[0]
        hosts, path = zkclient.parse_zk_url(self.master)
        if self.zk is None or self.zk.expired:
            self.zk = zkclient.ZooKeeperClient(hosts, session_timeout=10.0).start()
        _node, data = zkclient.lowest_child(self.zk, path, "json.info_")
        if not data:
            return None
        info = json.loads(data.decode("utf-8"))
        return "http://%s:%d" % (info.get("hostname") or info.get("address", {}).get("ip"), info["port"])

    def _loop(self):
        while not self.stopping.wait(1):
            if not self.standin.is_leader():
                continue
            try:
                base = self.master_base()
                if base:
                    self.step(base)
            except (zkclient.ZooKeeperError, zkclient.ConnectionLost, urllib.error.URLError, OSError,
                    ValueError) as exc:
                LOG.info("Mesos master not reachable (%s): tasks wait", exc)

    @staticmethod
    def _call(url, payload=None, timeout=30):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read().decode("utf-8") or "null")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")
            try:
                return exc.code, json.loads(body)
            except ValueError:
                return exc.code, {"message": body}

    def step(self, base):
        """One round: launch the waiting tasks, read the statuses back, kill what is no longer wanted."""
        now = time.time()
        with self.state.lock:
            self.state.tick()  # finish due deployments (scale down, restart) without waiting for a request
            pending = [task_spec(t, self.state.apps[app_id]) for app_id, tasks in self.state.tasks.items()
                       if app_id in self.state.apps for t in tasks
                       if t.get("_mesos") and not t.get("_launched") and t.get("_not_before", 0) <= now]
        for spec in pending:
            self._launch(base, spec)
        status, body = self._call(base + "/_standin/tasks")
        if status != 200:
            return
        reported = [t for t in body["tasks"] if t.get("framework_id") == self.framework_id]
        orphans = self._apply(reported)
        for task in orphans:
            LOG.info("killing task %s on %s: the app no longer has it", task["id"], task.get("hostname"))
            self._call(base + "/_standin/kill", {"task_id": task["id"], "grace": 3})

    def _launch(self, base, spec):
        status, body = self._call(base + "/_standin/launch", {"framework_id": self.framework_id, "task": spec})
        if status != 200:
            message = (body or {}).get("message", "HTTP %d" % status)
            if self.complaints.get(spec["id"]) != message:
                LOG.info("task %s not launched yet: %s", spec["id"], message)
                self.complaints[spec["id"]] = message
            return
        self.complaints.pop(spec["id"], None)
        with self.state.lock:
            task = self._find(spec["id"])
            if task is not None:
                task.update(_launched=time.time(), host=body["hostname"], slaveId=body["agent_id"],
                            ports=[p for p in body["ports"] if p])
        LOG.info("task %s of %s launched on %s", spec["id"], spec["app_id"], body["hostname"])

    def _find(self, task_id):
        for tasks in self.state.tasks.values():
            for task in tasks:
                if task["id"] == task_id:
                    return task
        return None

    def _apply(self, reported):
        """Copy the agents' statuses into the double's tasks; returns the live tasks it no longer has."""
        orphans = []
        seen = {status["id"] for status in reported}
        with self.state.lock:
            for task in [t for tasks in self.state.tasks.values() for t in tasks]:
                if task.get("_launched") and task["id"] not in seen and time.time() - task["_launched"] > 30:
                    self._replace(task, {"state": "TASK_LOST", "message": "no agent reports it any more"})
            for status in reported:
                task = self._find(status["id"])
                if task is None:
                    if status["state"] not in TERMINAL:
                        orphans.append(status)
                    continue
                task.update(_launched=task.get("_launched") or time.time(), state=status["state"], host=status.get("hostname") or task.get("host"),
                            slaveId=status.get("agent_id"), _health=status.get("health", []),
                            ipAddresses=[{"ipAddress": ip, "protocol": "IPv4"} for ip in status.get("ip_addresses", [])])
                if status["state"] == "TASK_RUNNING" and not task.get("startedAt"):
                    task["startedAt"] = self.state.now()
                if status["state"] in TERMINAL:
                    self._replace(task, status)
        return orphans

    def _replace(self, task, status):
        """A task ended on its own: Marathon launches a new one after the app's backoff."""
        app = self.state.apps.get(task["appId"])
        tasks = self.state.tasks.get(task["appId"], [])
        if task in tasks:
            tasks.remove(task)
        LOG.info("task %s ended (%s: %s)", task["id"], status["state"], status.get("message", ""))
        if app is not None and len(tasks) < app["instances"]:
            fresh = self.state.new_task(app)
            fresh["_not_before"] = time.time() + float(app.get("backoffSeconds", 1))
            tasks.append(fresh)
