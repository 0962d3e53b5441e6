"""The Mesos agent STAND-IN's docker containerizer: runs tasks as Docker containers (tests only, NOT Mesos).

Part of the Mesos stand-in (mesos_standin.py). It runs a task the way Mesos' docker containerizer does, with
the docker CLI given by the agent's ``--docker`` flag:

    docker run -d --cpu-shares <cpus*1024> --memory <mem MiB> -e K=V ... -v <sandbox>:/mnt/mesos/sandbox
        --net <network> --label=K=V ... -p <hostPort>:<containerPort>/<proto> ... [--entrypoint /bin/sh]
        --name mesos-<container id> --<parameter key>=<value> ... <image> [-c <cmd> | <args>...]

* the network comes from the app's ``networks`` (Marathon has already turned ``container.docker.network``
  into it): ``host`` gives ``--net host``, ``container/bridge`` ``--net bridge``, ``container`` with a
  ``name`` ``--net <name>``; a ``net``/``network`` entry among ``container.docker.parameters`` wins;
* ``container.docker.parameters`` become ``--key=value`` (``volume-driver=cephfs``, ``volume=alice.data:/data``,
  ``ip=10.1.0.5``, ...), ``container.volumes`` ``-v host:container:mode``;
* ``cmd`` runs as ``/bin/sh -c cmd`` (Mesos' shell command), ``args`` are passed to the image's entrypoint;
* the environment is the app's ``env`` plus what Marathon and Mesos add (MARATHON_APP_ID, MESOS_TASK_ID,
  HOST, PORT0.., PORTS, MESOS_SANDBOX, MESOS_CONTAINER_NAME).

Differences from Mesos, on purpose: the container runs detached (``-d``) instead of under an executor
process; a killed task's container is stopped (``docker stop -t <grace>``) and then removed. Tasks are
checkpointed under ``<work_dir>/meta/standin-tasks/`` so a restarted agent recovers them (their containers
keep running: the agent unit has KillMode=process). Health checks (HTTP/HTTPS/TCP/COMMAND and their MESOS_
forms) are really run here, from the agent, against the container's address (or the host port).
"""

import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

SANDBOX = "/mnt/mesos/sandbox"
TERMINAL = ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_GONE")
REPORT_TERMINAL_SECONDS = 60  # how long a terminal task stays in the agent's reports


def network_of(task):
    """The docker network a task joins, or None (docker's default): Marathon's networks, parameters win."""
    for param in task.get("parameters", []):
        if param.get("key") in ("net", "network"):
            return None  # passed on as a parameter
    networks = task.get("networks") or [{"mode": "host"}]
    mode = networks[0].get("mode", "host")
    if mode == "host":
        return "host"
    if mode == "container/bridge":
        return "bridge"
    return networks[0].get("name")


def environment(task):
    """The task's environment as Marathon and Mesos build it (app env first; theirs wins)."""
    env = {key: value for key, value in (task.get("env") or {}).items() if isinstance(value, str)}
    # A container port published on no host port is announced as itself, as Marathon does.
    mappings = task.get("port_mappings", [])
    ports = [port if port is not None else (mappings[i] if i < len(mappings) else {}).get("containerPort", 0)
             for i, port in enumerate(task.get("ports", []))]
    env.update({
        "MARATHON_APP_ID": task.get("app_id", ""), "MARATHON_APP_VERSION": task.get("app_version", ""),
        "MARATHON_APP_DOCKER_IMAGE": task["image"], "MESOS_TASK_ID": task["id"], "HOST": task.get("host", ""),
        "MESOS_SANDBOX": SANDBOX, "MESOS_CONTAINER_NAME": "mesos-" + task["container_id"],
        "PORTS": ",".join(str(p) for p in ports),
    })
    for index, port in enumerate(ports):
        env["PORT%d" % index] = str(port)
    if ports:
        env["PORT"] = str(ports[0])
    return env


def run_argv(task, docker="docker", sandbox=None):
    """The docker CLI arguments that start ``task`` (a dict the master sent; see mesos_standin.py)."""
    argv = [docker, "run", "-d"]
    if task.get("cpus"):
        argv += ["--cpu-shares", str(max(int(task["cpus"] * 1024), 2))]
    if task.get("mem"):
        argv += ["--memory", str(int(task["mem"] * 1024 * 1024))]
    for key, value in sorted(environment(task).items()):
        argv += ["-e", "%s=%s" % (key, value)]
    if sandbox:
        argv += ["-v", "%s:%s" % (sandbox, SANDBOX)]
    for volume in task.get("volumes", []):
        if volume.get("hostPath") and volume.get("containerPath"):
            argv += ["-v", "%s:%s:%s" % (volume["hostPath"], volume["containerPath"],
                                         volume.get("mode", "RW").lower())]
    network = network_of(task)
    if network:
        argv += ["--net", network]
    for key, value in sorted((task.get("labels") or {}).items()):
        argv.append("--label=%s=%s" % (key, value))
    if network != "host":
        for mapping, host_port in zip(task.get("port_mappings", []), task.get("ports", [])):
            if mapping.get("containerPort") and host_port is not None:
                argv += ["-p", "%d:%d/%s" % (host_port, mapping["containerPort"], mapping.get("protocol", "tcp"))]
    if task.get("cmd"):
        argv += ["--entrypoint", "/bin/sh"]
    argv += ["--name", "mesos-" + task["container_id"]]
    for param in task.get("parameters", []):
        argv.append("--%s=%s" % (param["key"], param["value"]))
    argv.append(task["image"])
    if task.get("cmd"):
        argv += ["-c", task["cmd"]]
    else:
        argv += [str(arg) for arg in task.get("args") or []]
    return argv


def status_from_inspect(info, agent_ip):
    """(state, [ip addresses], message) of a container from ``docker inspect`` output."""
    state = info.get("State") or {}
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    ips = [net.get("IPAddress") for net in networks.values() if net.get("IPAddress")]
    if not ips and "host" in networks:
        ips = [agent_ip]
    if state.get("Running"):
        return "TASK_RUNNING", ips, ""
    if state.get("Status") in ("created", "restarting"):
        return "TASK_STARTING", ips, ""
    code = state.get("ExitCode", 1)
    message = "container exited with status %s %s" % (code, state.get("Error") or "")
    return ("TASK_FINISHED" if code == 0 else "TASK_FAILED"), ips, message.strip()


class HealthCheck:
    """One of an app's health checks, run against one task; results shaped like Marathon's."""

    def __init__(self, check, task_id):
        self.check = check
        self.task_id = task_id
        self.started = time.time()
        self.next_run = self.started + min(float(check.get("delaySeconds", 0)), 5.0)
        self.result = {"alive": False, "consecutiveFailures": 0, "instanceId": task_id}
        self.ever_alive = False

    def due(self):
        return time.time() >= self.next_run

    def target(self, task, ip):
        """(host, port) the check talks to: the container's address, or the agent's for host networking."""
        if self.check.get("port"):
            return "127.0.0.1", int(self.check["port"])
        index = int(self.check.get("portIndex", 0))
        mappings = task.get("port_mappings", [])
        if network_of(task) != "host" and ip and index < len(mappings) and mappings[index].get("containerPort"):
            return ip, int(mappings[index]["containerPort"])
        ports = task.get("ports", [])
        return "127.0.0.1", int(ports[index] or 0) if index < len(ports) else 0

    def run(self, task, ip, docker):
        protocol = self.check.get("protocol", "HTTP").replace("MESOS_", "")
        timeout = float(self.check.get("timeoutSeconds", 20))
        try:
            if protocol == "COMMAND":
                command = (self.check.get("command") or {}).get("value", "true")
                proc = subprocess.run([docker, "exec", "mesos-" + task["container_id"], "/bin/sh", "-c", command],
                                      capture_output=True, timeout=timeout, check=False)
                ok, cause = proc.returncode == 0, "command exited with %d" % proc.returncode
            else:
                host, port = self.target(task, ip)
                if protocol == "TCP":
                    with socket.create_connection((host, port), timeout=timeout):
                        ok, cause = True, ""
                else:
                    scheme = "https" if protocol == "HTTPS" else "http"
                    url = "%s://%s:%d%s" % (scheme, host, port, self.check.get("path", "/"))
                    context = ssl._create_unverified_context() if scheme == "https" else None  # noqa: S323
                    with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
                        ok, cause = 200 <= resp.status < 400, "HTTP %d" % resp.status
        except urllib.error.HTTPError as exc:
            ok, cause = 200 <= exc.code < 400, "HTTP %d" % exc.code
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            ok, cause = False, str(exc)
        self._record(ok, cause)
        self.next_run = time.time() + max(float(self.check.get("intervalSeconds", 60)), 1.0)

    def _record(self, ok, cause):
        now = timestamp()
        if ok:
            self.ever_alive = True
            self.result.update(alive=True, consecutiveFailures=0, lastSuccess=now)
            self.result.setdefault("firstSuccess", now)
            return
        in_grace = not self.ever_alive and time.time() - self.started < float(self.check.get("gracePeriodSeconds", 300))
        if not in_grace:
            self.result["consecutiveFailures"] += 1
        self.result.update(alive=False, lastFailure=now, lastFailureCause=cause)


def timestamp():
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)


class DockerTasks:
    """The tasks one agent runs as containers: launch, kill, status, checkpoint, recovery."""

    def __init__(self, work_dir, docker="docker", agent_ip="127.0.0.1", log=print):
        self.dir = os.path.join(work_dir, "meta", "standin-tasks")
        self.sandboxes = os.path.join(work_dir, "sandboxes")
        self.docker = docker
        self.agent_ip = agent_ip
        self.log = log
        self.lock = threading.Lock()
        self.tasks = {}  # task id -> task (with "state", "ip_addresses", "message", "updated")
        self.checks = {}  # task id -> [HealthCheck]
        os.makedirs(self.dir, exist_ok=True)
        self._recover()

    # checkpointing
    def _checkpoint(self, task):
        path = os.path.join(self.dir, task["id"] + ".json")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(task, handle)
        os.replace(path + ".tmp", path)

    def _recover(self):
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(self.dir, name), encoding="utf-8") as handle:
                task = json.load(handle)
            self.tasks[task["id"]] = task
            self.checks[task["id"]] = [HealthCheck(c, task["id"]) for c in task.get("health_checks", [])]
            self.log("recovered checkpointed task %s (container mesos-%s, %s)" % (
                task["id"], task["container_id"], task.get("state")))

    # launching and killing
    def launch(self, task):
        """Start a task in the background; its state goes TASK_STAGING -> TASK_RUNNING (or TASK_FAILED)."""
        task = dict(task, container_id=task.get("container_id") or str(uuid.uuid4()), state="TASK_STAGING",
                    ip_addresses=[], message="", updated=time.time())
        with self.lock:
            if task["id"] in self.tasks:
                return self.tasks[task["id"]]
            self.tasks[task["id"]] = task
            self.checks[task["id"]] = [HealthCheck(c, task["id"]) for c in task.get("health_checks", [])]
            self._checkpoint(task)
        threading.Thread(target=self._run, args=(task,), name="launch-" + task["id"], daemon=True).start()
        return task

    def _run(self, task):
        sandbox = os.path.join(self.sandboxes, task["container_id"])
        os.makedirs(sandbox, exist_ok=True)
        argv = run_argv(task, self.docker, sandbox)
        self.log("launching task %s: %s" % (task["id"], " ".join(argv)))
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            failed = proc.returncode != 0
            message = proc.stderr.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            failed, message = True, str(exc)
        if failed:
            self.log("task %s failed to start: %s" % (task["id"], message))
            self._update(task["id"], state="TASK_FAILED", message="docker run failed: " + message)
        else:
            self.poll_one(task["id"])

    def kill(self, task_id, grace=3):
        with self.lock:
            task = self.tasks.get(task_id)
        if task is None:
            return False
        threading.Thread(target=self._stop, args=(task, grace), name="kill-" + task_id, daemon=True).start()
        return True

    def _stop(self, task, grace):
        name = "mesos-" + task["container_id"]
        self.log("killing task %s (docker stop -t %d %s)" % (task["id"], grace, name))
        subprocess.run([self.docker, "stop", "-t", str(int(grace)), name], capture_output=True, timeout=grace + 60,
                       check=False)
        subprocess.run([self.docker, "rm", "-f", name], capture_output=True, timeout=60, check=False)
        self._update(task["id"], state="TASK_KILLED", message="killed by the framework")

    def _update(self, task_id, **changes):
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None:
                return
            if task["state"] in TERMINAL and changes.get("state") not in (None, "TASK_KILLED"):
                return  # a killed task stays killed
            task.update(changes, updated=time.time())
            self._checkpoint(task)

    # status
    def poll_one(self, task_id):
        with self.lock:
            task = dict(self.tasks.get(task_id) or {})
        if not task or task["state"] in TERMINAL:
            return
        proc = subprocess.run([self.docker, "inspect", "mesos-" + task["container_id"]], capture_output=True,
                              text=True, timeout=60, check=False)
        if proc.returncode != 0:
            if task["state"] != "TASK_STAGING":
                self._update(task_id, state="TASK_LOST", message="container mesos-%s is gone" % task["container_id"])
            return
        state, ips, message = status_from_inspect(json.loads(proc.stdout)[0], self.agent_ip)
        self._update(task_id, state=state, ip_addresses=ips, message=message)
        if state == "TASK_RUNNING":
            for check in self.checks.get(task_id, []):
                if check.due():
                    check.run(task, ips[0] if ips else None, self.docker)

    def poll(self):
        """Refresh every live task from docker and drop terminal ones reported long enough."""
        with self.lock:
            ids = list(self.tasks)
        for task_id in ids:
            self.poll_one(task_id)
        now = time.time()
        with self.lock:
            for task_id in [t for t, task in self.tasks.items()
                            if task["state"] in TERMINAL and now - task["updated"] > REPORT_TERMINAL_SECONDS]:
                del self.tasks[task_id]
                self.checks.pop(task_id, None)
                try:
                    os.remove(os.path.join(self.dir, task_id + ".json"))
                except OSError:
                    pass

    def report(self):
        """What the agent tells the master about its tasks (and the master tells the framework)."""
        with self.lock:
            return [{
                "id": task["id"], "framework_id": task.get("framework_id"), "app_id": task.get("app_id"),
                "state": task["state"], "message": task.get("message", ""), "container": "mesos-" + task["container_id"],
                "ip_addresses": task.get("ip_addresses", []), "ports": task.get("ports", []),
                "cpus": task.get("cpus", 0), "mem": task.get("mem", 0), "disk": task.get("disk", 0),
                "health": [dict(c.result) for c in self.checks.get(task["id"], [])],
            } for task in self.tasks.values()]
