"""Apache Mesos master and agent STAND-IN: a shepherd test stand-in, NOT Apache Mesos.

Mesos cannot be obtained on the machines that test shepherd.fleet. This stand-in (Python standard library)
reads the configuration the real daemons read and behaves as the mesos and marathon roles need to test
against:

* ``master``: flags ``--name=value`` and ``MESOS_NAME`` environment variables (flags win), ``--zk`` as a
  ``zk://`` URL or ``file://`` path; refuses what Mesos refuses (unknown flags, no ``--work_dir`` with the
  replicated-log registry, ``--zk`` without ``--quorum``, and here also ``--quorum`` without ``--zk``);
  contends for leadership through the real ZooKeeper with an ephemeral sequential ``json.info_`` node under the
  ``--zk`` path holding its MasterInfo as JSON, as Mesos 1.x does; the lowest sequence leads. A leader that
  loses its ZooKeeper session exits, as Mesos does, for systemd to restart it.
* ``agent``: ``--master`` (``zk://``, ``file://`` or ``host:port``), ``--work_dir`` (required), ``--resources``,
  ``--attributes``, ``--containerizers``, ``--credential``; checkpoints its agent id under the work_dir so a
  restarted agent comes back as the same agent; registers with the leading master and re-registers every
  two seconds, reporting its tasks (real agents use libprocess messages). With ``docker`` among its
  containerizers it runs tasks as Docker containers exactly as Mesos' docker containerizer names and
  configures them (docker_tasks.py), checkpointed so they survive an agent restart.
* ``init-wrapper master|slave``: the packages' wrapper that turns ``/etc/mesos/zk``, ``/etc/mesos-master/*``
  and ``/etc/mesos-slave/*`` into flags (a file ``NAME`` gives ``--NAME=<content>``, a file ``?NAME`` gives
  ``--NAME``) and runs the daemon.

HTTP: masters answer ``/master/health``, ``/master/state`` (and ``state.json``), ``/master/redirect``,
``/version``, ``/metrics/snapshot``, ``/health``; agents ``/state``, ``/slave(1)/state``, ``/version``,
``/metrics/snapshot``, ``/health``. Every log line and ``/version`` says STAND-IN.

Stand-in-only protocol (plain JSON over HTTP under ``/_standin/``; NOT part of any Mesos API, which uses
libprocess messages and the scheduler API instead). The Marathon double is the framework:

* master ``POST /_standin/launch`` ``{"framework_id", "task": TASK}``: the leading master places the task on an
  active agent with ``docker`` among its containerizers, enough free cpus/mem/disk/ports and matching
  ``constraints`` (Marathon's ``[field, operator, value]``: hostname or attributes; UNIQUE, CLUSTER, GROUP_BY,
  LIKE, UNLIKE, MAX_PER, IS) and asks that agent to run it. 200 ``{"agent_id", "hostname", "ports"}``;
  409 when no agent fits (the framework retries, as it would wait for offers) or when not leading.
  TASK: ``id``, ``app_id``, ``app_version``, ``image``, ``cpus``, ``mem``, ``disk``, ``cmd`` or ``args``, ``env``,
  ``labels``, ``networks`` (Marathon's), ``parameters`` (``[{key, value}]``), ``volumes``, ``port_mappings``,
  ``host_ports`` (requested host ports, 0 = any), ``constraints``, ``health_checks``.
* master ``POST /_standin/kill`` ``{"task_id", "grace"}``: kills a task on its agent.
* master ``GET /_standin/tasks``: every task the agents report: ``id``, ``framework_id``, ``app_id``, ``state``
  (TASK_STAGING/STARTING/RUNNING/FINISHED/FAILED/KILLED/LOST), ``agent_id``, ``hostname``, ``ip_addresses``,
  ``ports``, ``container``, ``health`` (Marathon-shaped healthCheckResults), ``message``.
* agent ``POST /_standin/run`` TASK (with ``host`` and ``ports`` filled in) and ``POST /_standin/kill``;
  agent to master ``POST /_standin/register`` (its resources, attributes, containerizers and tasks).
"""

import argparse
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import docker_tasks  # noqa: E402  pylint: disable=wrong-import-position
import zkclient  # noqa: E402  pylint: disable=wrong-import-position

MESOS_VERSION = "1.11.0"
STANDIN = "STAND-IN (shepherd tests, not Apache Mesos)"
LEADER_PREFIX = "json.info_"

MASTER_FLAGS = {
    "zk", "quorum", "work_dir", "cluster", "hostname", "ip", "port", "advertise_ip", "advertise_port", "registry",
    "log_dir", "logging_level", "authenticate_agents", "authenticate_frameworks", "authenticate_http_readonly",
    "authenticate_http_readwrite", "credentials", "acls", "roles", "weights", "offer_timeout", "zk_session_timeout",
    "hostname_lookup", "max_agent_ping_timeouts", "agent_ping_timeout", "webui_dir", "external_log_file",
    "registry_strict", "max_completed_frameworks", "max_completed_tasks_per_framework", "quiet",
    # more real flags sites set (``authenticate`` is the deprecated name of authenticate_frameworks)
    "authenticate", "authenticators", "http_credentials", "modules", "allocation_interval", "agent_reregister_timeout",
    "recovery_agent_removal_limit", "framework_sorter", "max_slave_ping_timeouts", "slave_ping_timeout",
}
AGENT_FLAGS = {
    "master", "work_dir", "resources", "attributes", "containerizers", "hostname", "ip", "port", "advertise_ip",
    "advertise_port", "credential", "docker", "docker_store_dir", "log_dir", "logging_level", "isolation",
    "executor_registration_timeout", "recover", "strict", "hostname_lookup", "image_providers",
    "docker_registry", "systemd_enable_support", "cgroups_root", "runtime_dir", "launcher", "quiet",
    "executor_shutdown_grace_period", "switch_user", "default_role", "fetcher_cache_dir",
    "docker_socket", "docker_remove_delay", "docker_kill_orphans", "docker_stop_timeout", "docker_config",
    "executor_environment_variables", "network_cni_config_dir", "network_cni_plugins_dir", "gc_delay",
    "http_credentials", "authenticate_http_readonly", "authenticate_http_readwrite", "modules", "hooks",
    "container_logger", "registration_backoff_factor", "default_container_info", "host_path_volume_force_creation",
}
BOOLEAN_FLAGS = {"authenticate", "docker_kill_orphans", "authenticate_agents", "authenticate_frameworks", "authenticate_http_readonly",
                 "authenticate_http_readwrite", "hostname_lookup", "registry_strict", "quiet", "strict",
                 "systemd_enable_support", "switch_user"}
CONTAINERIZERS = {"mesos", "docker"}


class ConfigError(Exception):
    """A configuration the real daemon refuses to start with."""


def log(daemon, message):
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write("%s STAND-IN %s: %s\n" % (stamp, daemon, message))
    sys.stdout.flush()


# -- configuration -----------------------------------------------------------------------------------------
def load_flags(argv, environ, known):
    """Flags as Mesos loads them: MESOS_<NAME> environment variables, then --name=value arguments."""
    flags = {}
    for key, value in environ.items():
        if key.startswith("MESOS_") and key[6:].lower() in known:
            flags[key[6:].lower()] = value
    for arg in argv:
        if not arg.startswith("--"):
            raise ConfigError("Unexpected argument '%s'" % arg)
        name, has_value, value = arg[2:].partition("=")
        if not has_value:
            if name.startswith("no-") and name[3:] in BOOLEAN_FLAGS:
                name, value = name[3:], "false"
            else:
                value = "true"
        if name not in known:
            raise ConfigError("Failed to load unknown flag '%s'" % name)
        flags[name] = value
    return flags


def read_value(value):
    """Mesos reads a flag value from a file when it is given as file:///path."""
    if value.startswith("file://"):
        with open(value[len("file://"):], encoding="utf-8") as handle:
            return handle.read().strip()
    return value


def flag_true(flags, name):
    return flags.get(name, "false").lower() in ("true", "1", "yes")


def parse_resources(text):
    """--resources as 'cpus:2;mem:1024;ports:[31000-32000]' or a JSON list of resource objects."""
    resources = {"cpus": float(os.cpu_count() or 1), "mem": 1024.0, "disk": 10240.0, "ports": "[31000-32000]"}
    text = read_value(text or "")
    if not text:
        return resources
    if text.lstrip().startswith("["):
        for item in json.loads(text):
            if item.get("type", "SCALAR") == "SCALAR":
                resources[item["name"]] = float(item["scalar"]["value"])
            else:
                ranges = item["ranges"]["range"]
                resources[item["name"]] = "[" + ", ".join("%d-%d" % (r["begin"], r["end"]) for r in ranges) + "]"
        return resources
    for part in filter(None, text.split(";")):
        name, sep, value = part.partition(":")
        if not sep:
            raise ConfigError("Failed to parse resource '%s': expected name:value" % part)
        name = name.split("(")[0].strip()
        if value.startswith("[") or value.startswith("{"):
            resources[name] = value
        else:
            try:
                resources[name] = float(value)
            except ValueError as exc:
                raise ConfigError("Failed to parse resource '%s': not a number" % part) from exc
    return resources


def parse_attributes(text):
    """--attributes as 'rack:r1;zone:z1'; numbers become scalars, as Mesos reports them."""
    attributes = {}
    for part in filter(None, read_value(text or "").split(";")):
        name, sep, value = part.partition(":")
        if not sep or not name:
            raise ConfigError("Invalid attribute '%s': expected name:value" % part)
        try:
            attributes[name] = float(value) if "." in value else int(value)
        except ValueError:
            attributes[name] = value
    return attributes


def parse_duration(text):
    """A Mesos duration ('10secs', '500ms', '2mins') in seconds."""
    units = (("ms", 0.001), ("secs", 1), ("mins", 60), ("hrs", 3600), ("days", 86400))
    for unit, factor in units:
        if text.endswith(unit):
            try:
                return float(text[:-len(unit)]) * factor
            except ValueError:
                break
    raise ConfigError("Failed to parse duration '%s'" % text)


def address_of(flags):
    hostname = flags.get("hostname") or socket.getfqdn()
    ip = flags.get("advertise_ip") or flags.get("ip")
    if not ip:
        try:
            ip = socket.gethostbyname(hostname)
        except OSError:
            ip = "127.0.0.1"
    return hostname, ip


def port_ranges(text):
    """'[31000-31002, 32000-32000]' -> [(31000, 31002), (32000, 32000)]."""
    return [(int(a), int(b)) for a, b in re.findall(r"(\d+)\s*-\s*(\d+)", str(text or ""))]


def post_json(url, payload, timeout=10):
    request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read()
    return json.loads(data.decode("utf-8")) if data else None


# -- placement (the stand-in's allocator plus Marathon's constraint matching) ------------------------------
def field_value(agent, field):
    if field == "hostname":
        return agent["hostname"]
    value = agent.get("attributes", {}).get(field)
    return None if value is None else str(value)


def constraint_ok(constraint, agent, agents, app_tasks):
    """Marathon's constraint semantics for one agent, given the live tasks of the same app."""
    field, operator = constraint[0], constraint[1]
    param = constraint[2] if len(constraint) > 2 else None
    value = field_value(agent, field)
    by_agent = {a["id"]: a for a in agents}
    used = [field_value(by_agent[t["agent_id"]], field) for t in app_tasks if t.get("agent_id") in by_agent]
    if operator == "UNLIKE":
        return value is None or not re.fullmatch(param or "", value)
    if value is None:
        return False
    if operator == "UNIQUE":
        return value not in used
    if operator in ("CLUSTER", "IS"):
        return value == param if param else all(u == value for u in used)
    if operator == "LIKE":
        return bool(re.fullmatch(param or "", value))
    if operator == "MAX_PER":
        return used.count(value) < int(param)
    if operator == "GROUP_BY":
        values = {field_value(a, field) for a in agents} - {None}
        return used.count(value) <= min(used.count(v) for v in values)
    return False


def place(task, agents, tasks):
    """(agent, host ports) for ``task`` among ``agents`` given the live ``tasks``, or (None, reason)."""
    live = [t for t in tasks if t.get("state") not in docker_tasks.TERMINAL]
    app_tasks = [t for t in live if t.get("app_id") == task.get("app_id")]
    reasons = []
    candidates = []
    for agent in sorted(agents, key=lambda a: a["hostname"]):
        on_agent = [t for t in live if t.get("agent_id") == agent["id"]]
        if not agent.get("active", True) or "docker" not in agent.get("containerizers", []):
            reasons.append("%s: no docker containerizer" % agent["hostname"])
            continue
        short = [name for name in ("cpus", "mem", "disk") if float(task.get(name) or 0) >
                 float(agent["resources"].get(name, 0)) - sum(float(t.get(name) or 0) for t in on_agent) + 1e-9]
        if short:
            reasons.append("%s: not enough %s" % (agent["hostname"], ",".join(short)))
            continue
        failed = [c for c in task.get("constraints", []) if not constraint_ok(c, agent, agents, app_tasks)]
        if failed:
            reasons.append("%s: constraint %s" % (agent["hostname"], failed[0]))
            continue
        ports = pick_ports(task.get("host_ports", []), agent["resources"].get("ports"),
                           {p for t in on_agent for p in t.get("ports", []) if p})
        if ports is None:
            reasons.append("%s: not enough ports" % agent["hostname"])
            continue
        candidates.append((len(on_agent), agent, ports))
    if not candidates:
        return None, "; ".join(reasons) or "no agent registered"
    _count, agent, ports = min(candidates, key=lambda c: c[0])
    return agent, ports


def pick_ports(wanted, ranges_text, used):
    """Host ports from the agent's ranges, one per entry of ``wanted``: the requested port, the lowest free
    one for 0, none (None) for None (a container port published on no host port). None when short."""
    ranges = port_ranges(ranges_text)

    def offered(port):
        return any(a <= port <= b for a, b in ranges) and port not in used

    fixed = [port for port in wanted if port]
    if len(set(fixed)) != len(fixed) or not all(offered(port) for port in fixed):
        return None
    free = (p for a, b in ranges for p in range(a, b + 1) if offered(p) and p not in fixed)
    result = []
    for port in wanted:
        if port is None or port:
            result.append(port)
            continue
        pick = next(free, None)
        if pick is None:
            return None
        result.append(pick)
    return result


def leader_from_zk(client, path):
    """(node name, MasterInfo) of the lowest json.info_ node under path, or (None, None)."""
    node, data = zkclient.lowest_child(client, path, LEADER_PREFIX)
    return node, (json.loads(data.decode("utf-8")) if node else None)


# -- HTTP --------------------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    """Routes requests to the daemon object's routes: {(method, path): function(body) -> (status, obj)}."""

    daemon_obj = None
    server_version = "Mesos-STAND-IN/" + MESOS_VERSION

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass  # the daemons log what matters themselves

    def _handle(self, method):
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route = self.daemon_obj.routes().get((method, path))
        if route is None:
            self._reply(404, None)
            return
        status, payload, headers = route(body)
        self._reply(status, payload, headers)

    def _reply(self, status, payload, headers=None):
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # pylint: disable=invalid-name
        self._handle("GET")

    def do_POST(self):  # pylint: disable=invalid-name
        self._handle("POST")


def serve(daemon_obj, ip, port):
    handler = type("BoundHandler", (Handler,), {"daemon_obj": daemon_obj})
    server = ThreadingHTTPServer((ip or "0.0.0.0", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return server


def version_info():
    return {"version": MESOS_VERSION, "build_user": STANDIN, "build_date": "stand-in", "build_time": 0,
            "git_sha": "standin"}


# -- master ------------------------------------------------------------------------------------------------
class Daemon:  # pylint: disable=too-few-public-methods
    """What master and agent share: stopping (tests run them in-process; the packages' units just kill them)."""

    stopping = None
    server = None

    def stop(self):
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class Master(Daemon):
    """A mesos-master stand-in: leader election through ZooKeeper, agent registry, state endpoints."""

    def __init__(self, flags):
        self.flags = flags
        self.started = time.time()
        self.port = int(flags.get("port", 5050))
        self.hostname, self.ip = address_of(flags)
        self.id = str(uuid.uuid4())
        self.pid = "master@%s:%d" % (self.ip, self.port)
        self.info = {"id": self.id, "pid": self.pid, "hostname": self.hostname, "ip": self.ip, "port": self.port,
                     "version": MESOS_VERSION, "address": {"hostname": self.hostname, "ip": self.ip, "port": self.port}}
        self.leader = None
        self.elected_time = None
        self.agents = {}
        self.tasks = {}  # task id -> the latest status (agent reports, or the launch until the agent reports)
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # set by stop() (tests run the daemons in-process)
        self.server = None
        self.credentials = self._load_credentials()
        self.zk_url = read_value(flags["zk"]) if flags.get("zk") else None

    def _load_credentials(self):
        if not flag_true(self.flags, "authenticate_agents"):
            return None
        if not self.flags.get("credentials"):
            raise ConfigError("--authenticate_agents needs --credentials")
        text = read_value(self.flags["credentials"]) if self.flags["credentials"].startswith("file://") else \
            open(self.flags["credentials"], encoding="utf-8").read()
        try:
            entries = json.loads(text)["credentials"]
        except (ValueError, KeyError) as exc:
            raise ConfigError("Failed to load credentials: expected {\"credentials\": [...]}") from exc
        return {item["principal"]: item["secret"] for item in entries}

    @staticmethod
    def validate(flags):
        registry = flags.get("registry", "replicated_log")
        if registry not in ("replicated_log", "in_memory"):
            raise ConfigError("'%s' is not a supported option for registry persistence" % registry)
        if registry == "replicated_log" and not flags.get("work_dir"):
            raise ConfigError("--work_dir needed for replicated log based registry")
        if flags.get("zk") and registry == "replicated_log" and not flags.get("quorum"):
            raise ConfigError("Need to specify --quorum for replicated log based registry when using ZooKeeper")
        if flags.get("quorum") and not flags.get("zk"):
            raise ConfigError("--quorum given without --zk: a replicated log quorum needs ZooKeeper (stand-in check)")
        if flags.get("quorum"):
            try:
                if int(flags["quorum"]) < 1:
                    raise ValueError
            except ValueError as exc:
                raise ConfigError("Failed to load flag 'quorum': '%s' is not a positive integer" % flags["quorum"]) from exc
        if flags.get("zk"):
            zkclient.parse_zk_url(read_value(flags["zk"]))

    def is_leader(self):
        return self.leader is not None and self.leader.get("id") == self.id

    def run(self):
        if self.flags.get("work_dir"):
            os.makedirs(self.flags["work_dir"], exist_ok=True)
        self.server = serve(self, self.flags.get("ip"), self.port)
        log("mesos-master", "listening on %s:%d as %s (cluster %r)" % (self.ip, self.port, self.pid,
                                                                       self.flags.get("cluster", "")))
        if not self.zk_url:
            self.leader, self.elected_time = self.info, time.time()
            log("mesos-master", "no --zk: this standalone master leads")
            self.stopping.wait()
            return
        hosts, path = zkclient.parse_zk_url(self.zk_url)
        timeout = parse_duration(self.flags.get("zk_session_timeout", "10secs"))
        while True:
            client = zkclient.ZooKeeperClient(hosts, session_timeout=timeout).start()
            client.ensure_path(path)
            node = client.create(path + "/" + LEADER_PREFIX, json.dumps(self.info).encode("utf-8"),
                                 zkclient.EPHEMERAL | zkclient.SEQUENTIAL)
            log("mesos-master", "contending for leadership with %s via %s" % (node, client.server))
            try:
                self._follow_election(client, path)
            except zkclient.SessionExpired:
                if self.is_leader():
                    log("mesos-master", "lost the ZooKeeper session while leading: committing suicide, as Mesos does")
                    os._exit(1)  # pylint: disable=protected-access
                log("mesos-master", "ZooKeeper session expired: contending again")
                self.leader = None
            except zkclient.ConnectionLost as exc:
                if self.is_leader():
                    log("mesos-master", "lost ZooKeeper while leading (%s): committing suicide" % exc)
                    os._exit(1)  # pylint: disable=protected-access
                log("mesos-master", "lost ZooKeeper (%s): contending again" % exc)
                self.leader = None

    def _follow_election(self, client, path):
        while True:
            _node, leader = leader_from_zk(client, path)
            was_leader = self.is_leader()
            if leader != self.leader:
                self.leader = leader
                if self.is_leader():
                    self.elected_time = time.time()
                    log("mesos-master", "elected as the leading master")
                elif was_leader:
                    log("mesos-master", "lost leadership: committing suicide, as Mesos does")
                    os._exit(1)  # pylint: disable=protected-access
                else:
                    log("mesos-master", "the leading master is %s" % (leader or {}).get("pid"))
            time.sleep(1)

    # HTTP
    def routes(self):
        return {
            ("GET", "/master/health"): lambda body: (200, None, None),
            ("GET", "/health"): lambda body: (200, None, None),
            ("GET", "/version"): lambda body: (200, version_info(), None),
            ("GET", "/master/state"): self.state,
            ("GET", "/master/state.json"): self.state,
            ("GET", "/state"): self.state,
            ("GET", "/master/redirect"): self.redirect,
            ("GET", "/metrics/snapshot"): self.metrics,
            ("POST", "/_standin/register"): self.register,
            ("POST", "/_standin/launch"): self.launch,
            ("POST", "/_standin/kill"): self.kill,
            ("GET", "/_standin/tasks"): self.task_list,
        }

    def _active_agents(self):
        now = time.time()
        with self.lock:
            return [dict(agent, active=now - agent["last_seen"] < 15) for agent in self.agents.values()]

    def state(self, _body):
        leader = self.leader or {}
        agents = self._active_agents() if self.is_leader() else []
        return 200, {
            "version": MESOS_VERSION, "build_user": STANDIN, "id": self.id, "pid": self.pid,
            "hostname": self.hostname, "cluster": self.flags.get("cluster", ""),
            "leader": leader.get("pid", ""), "leader_info": leader or None,
            "start_time": self.started, "elected_time": self.elected_time if self.is_leader() else None,
            "activated_slaves": len([a for a in agents if a["active"]]),
            "deactivated_slaves": len([a for a in agents if not a["active"]]),
            "slaves": [{key: value for key, value in agent.items() if key != "last_seen"} for agent in agents],
            "frameworks": self._frameworks() if self.is_leader() else [], "flags": self.flags,
        }, None

    def _frameworks(self):
        with self.lock:
            tasks = [dict(task) for task in self.tasks.values()]
        ids = sorted({t.get("framework_id") or "" for t in tasks})
        return [{"id": fid, "tasks": [t for t in tasks if (t.get("framework_id") or "") == fid]} for fid in ids]

    def redirect(self, _body):
        leader = self.leader or {}
        if not leader:
            return 503, None, None
        return 307, None, {"Location": "//%s:%d" % (leader.get("hostname"), leader.get("port"))}

    def metrics(self, _body):
        agents = self._active_agents() if self.is_leader() else []
        return 200, {
            "master/elected": 1.0 if self.is_leader() else 0.0,
            "master/uptime_secs": time.time() - self.started,
            "master/slaves_active": float(len([a for a in agents if a["active"]])),
            "master/slaves_connected": float(len([a for a in agents if a["active"]])),
            "master/slaves_disconnected": float(len([a for a in agents if not a["active"]])),
            "registrar/log/recovered": 1.0 if self.is_leader() else 0.0,
        }, None

    def register(self, body):
        if not self.is_leader():
            return 409, {"message": "not the leading master"}, None
        agent = json.loads(body.decode("utf-8"))
        if self.credentials is not None:
            principal = agent.pop("principal", None)
            if self.credentials.get(principal) != agent.pop("secret", None):
                log("mesos-master", "refused agent %s: authentication failed" % agent.get("hostname"))
                return 401, {"message": "authentication failed"}, None
        agent.pop("principal", None)
        agent.pop("secret", None)
        reported = agent.pop("tasks", [])
        with self.lock:
            self._merge_tasks(agent, reported)
            known = agent["id"] in self.agents
            agent["last_seen"] = time.time()
            agent["registered_time"] = self.agents.get(agent["id"], {}).get("registered_time", time.time())
            self.agents[agent["id"]] = agent
        if not known:
            log("mesos-master", "registered agent %s at %s with resources %s and attributes %s" % (
                agent["id"], agent["pid"], agent["resources"], agent["attributes"]))
        return 200, {"id": agent["id"]}, None

    def _merge_tasks(self, agent, reported):
        """An agent's report replaces what the master knew of that agent's tasks (launches not yet reported
        stay a while: the agent starts them in the background)."""
        now = time.time()
        ids = set()
        for task in reported:
            ids.add(task["id"])
            self.tasks[task["id"]] = dict(task, agent_id=agent["id"], hostname=agent["hostname"])
        for task_id, task in list(self.tasks.items()):
            if task.get("agent_id") == agent["id"] and task_id not in ids and now - task.get("launched", 0) > 30:
                del self.tasks[task_id]

    def launch(self, body):
        """Stand-in protocol: place a framework's task on an agent and have the agent run it."""
        if not self.is_leader():
            return 409, {"message": "not the leading master"}, None
        request = json.loads(body.decode("utf-8"))
        task = dict(request["task"], framework_id=request.get("framework_id"))
        agents = self._active_agents()
        with self.lock:
            if task["id"] in self.tasks:
                known = self.tasks[task["id"]]
                return 200, {"agent_id": known["agent_id"], "hostname": known["hostname"],
                             "ports": known.get("ports", [])}, None
            agent, ports = place(task, [a for a in agents if a["active"]], list(self.tasks.values()))
            if agent is None:
                log("mesos-master", "no agent for task %s: %s" % (task["id"], ports))
                return 409, {"message": "no agent fits task %s: %s" % (task["id"], ports)}, None
            task.update(host=agent["hostname"], ports=ports)
            self.tasks[task["id"]] = {
                "id": task["id"], "framework_id": task["framework_id"], "app_id": task.get("app_id"),
                "state": "TASK_STAGING", "agent_id": agent["id"], "hostname": agent["hostname"], "ports": ports,
                "cpus": task.get("cpus", 0), "mem": task.get("mem", 0), "disk": task.get("disk", 0),
                "ip_addresses": [], "health": [], "message": "", "launched": time.time()}
        try:
            post_json("http://%s:%d/_standin/run" % (agent["hostname"], agent["port"]), task, timeout=30)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            with self.lock:
                self.tasks.pop(task["id"], None)
            return 503, {"message": "agent %s did not take task %s: %s" % (agent["hostname"], task["id"], exc)}, None
        log("mesos-master", "launched task %s of %s on agent %s (ports %s)" % (
            task["id"], task.get("app_id"), agent["hostname"], ports))
        return 200, {"agent_id": agent["id"], "hostname": agent["hostname"], "ports": ports}, None

    def kill(self, body):
        """Stand-in protocol: kill a task on the agent that runs it."""
        if not self.is_leader():
            return 409, {"message": "not the leading master"}, None
        request = json.loads(body.decode("utf-8"))
        with self.lock:
            task = dict(self.tasks.get(request["task_id"]) or {})
            agent = self.agents.get(task.get("agent_id"))
        if not task or agent is None:
            return 404, {"message": "unknown task %s" % request["task_id"]}, None
        try:
            post_json("http://%s:%d/_standin/kill" % (agent["hostname"], agent["port"]),
                      {"task_id": task["id"], "grace": request.get("grace", 3)})
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return 503, {"message": "agent %s did not kill task %s: %s" % (agent["hostname"], task["id"], exc)}, None
        log("mesos-master", "killing task %s on agent %s" % (task["id"], agent["hostname"]))
        return 200, {"task_id": task["id"]}, None

    def task_list(self, _body):
        if not self.is_leader():
            return 409, {"message": "not the leading master"}, None
        with self.lock:
            return 200, {"tasks": [dict(task) for task in self.tasks.values()]}, None


# -- agent -------------------------------------------------------------------------------------------------
class Agent(Daemon):
    """A mesos-agent stand-in: finds the leading master and keeps itself registered there."""

    def __init__(self, flags):
        self.flags = flags
        self.started = time.time()
        self.port = int(flags.get("port", 5051))
        self.hostname, self.ip = address_of(flags)
        self.pid = "slave(1)@%s:%d" % (self.ip, self.port)
        self.resources = parse_resources(flags.get("resources"))
        self.attributes = parse_attributes(flags.get("attributes"))
        self.containerizers = flags.get("containerizers", "mesos").split(",")
        self.master_spec = read_value(flags["master"])
        self.id = self._recover_id()
        self.master = None
        self.registered = False
        self.credential = self._load_credential()
        self.stopping = threading.Event()  # set by stop() (tests run the daemons in-process)
        self.server = None
        self.docker = None
        if "docker" in self.containerizers:
            self.docker = docker_tasks.DockerTasks(flags["work_dir"], flags.get("docker", "docker"), self.ip,
                                                   log=lambda message: log("mesos-agent", message))

    @staticmethod
    def validate(flags):
        if not flags.get("master"):
            raise ConfigError("Missing required option --master")
        if not flags.get("work_dir"):
            raise ConfigError("Flag 'work_dir' is required, but it was not provided")
        containerizers = flags.get("containerizers", "mesos").split(",")
        unknown = [c for c in containerizers if c not in CONTAINERIZERS]
        if unknown:
            raise ConfigError("Unknown or unsupported containerizer: %s" % ",".join(unknown))
        if "docker" in containerizers and not shutil.which(flags.get("docker", "docker")):
            raise ConfigError("Failed to create a containerizer: Could not create DockerContainerizer: "
                              "Failed to create docker: Failed to find docker binary '%s'" % flags.get("docker", "docker"))
        master = read_value(flags["master"])
        if master.startswith("zk://"):
            zkclient.parse_zk_url(master)
        parse_resources(flags.get("resources"))
        parse_attributes(flags.get("attributes"))

    def _load_credential(self):
        if not self.flags.get("credential"):
            return None
        path = self.flags["credential"]
        path = path[len("file://"):] if path.startswith("file://") else path
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
        if text.startswith("{"):
            data = json.loads(text)
            return data["principal"], data["secret"]
        principal, _sep, secret = text.partition(" ")
        return principal, secret.strip()

    def _recover_id(self):
        """The agent id, checkpointed under work_dir/meta/slaves/latest like the real agent's."""
        meta = os.path.join(self.flags["work_dir"], "meta", "slaves")
        latest = os.path.join(meta, "latest")
        if os.path.exists(latest):
            with open(latest, encoding="utf-8") as handle:
                agent_id = handle.read().strip()
            log("mesos-agent", "recovered checkpointed agent id %s" % agent_id)
            return agent_id
        os.makedirs(meta, exist_ok=True)
        agent_id = "%s-S0" % uuid.uuid4()
        with open(latest, "w", encoding="utf-8") as handle:
            handle.write(agent_id + "\n")
        return agent_id

    def _find_master(self, client, path):
        if client is None:
            host, _sep, port = self.master_spec.partition(":")
            return {"hostname": host, "port": int(port or 5050)}
        return leader_from_zk(client, path)[1]

    def _watch_tasks(self):
        while True:
            try:
                self.docker.poll()
            except Exception as exc:  # pylint: disable=broad-except  # keep watching whatever one poll hit
                log("mesos-agent", "polling the tasks' containers failed: %s" % exc)
            if self.stopping.wait(1):
                return

    def run(self):
        self.server = serve(self, self.flags.get("ip"), self.port)
        if self.docker is not None:
            threading.Thread(target=self._watch_tasks, name="tasks", daemon=True).start()
        log("mesos-agent", "listening on %s:%d as %s; resources %s; attributes %s; containerizers %s" % (
            self.ip, self.port, self.pid, self.resources, self.attributes, ",".join(self.containerizers)))
        client, path = None, None
        if self.master_spec.startswith("zk://"):
            hosts, path = zkclient.parse_zk_url(self.master_spec)
            client = zkclient.ZooKeeperClient(hosts).start()
        while True:
            try:
                master = self._find_master(client, path)
            except zkclient.SessionExpired:
                client = zkclient.ZooKeeperClient(client.hosts).start()
                continue
            except zkclient.ConnectionLost:
                master = None
            if master != self.master:
                self.registered = False
                log("mesos-agent", "new leading master: %s" % (master or {}).get("pid", "none"))
            self.master = master
            if master:
                self._register(master)
            if self.stopping.wait(2):
                return

    def _register(self, master):
        body = {"id": self.id, "pid": self.pid, "hostname": self.hostname, "port": self.port,
                "resources": self.resources, "attributes": self.attributes, "version": MESOS_VERSION,
                "containerizers": self.containerizers, "tasks": self.docker.report() if self.docker else []}
        if self.credential:
            body["principal"], body["secret"] = self.credential
        url = "http://%s:%d/_standin/register" % (master.get("hostname"), master.get("port"))
        try:
            post_json(url, body, timeout=5)
            if not self.registered:
                log("mesos-agent", "registered with master %s as %s" % (master.get("pid"), self.id))
            self.registered = True
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if self.registered:
                log("mesos-agent", "lost the master %s: %s" % (master.get("pid"), exc))
            self.registered = False

    def routes(self):
        state = self.state
        return {
            ("GET", "/health"): lambda body: (200, None, None),
            ("GET", "/version"): lambda body: (200, version_info(), None),
            ("GET", "/state"): state,
            ("GET", "/state.json"): state,
            ("GET", "/slave(1)/state"): state,
            ("GET", "/slave(1)/state.json"): state,
            ("GET", "/metrics/snapshot"): lambda body: (200, {
                "slave/registered": 1.0 if self.registered else 0.0,
                "slave/uptime_secs": time.time() - self.started}, None),
            ("POST", "/_standin/run"): self.run_task,
            ("POST", "/_standin/kill"): self.kill_task,
        }

    def run_task(self, body):
        if self.docker is None:
            return 400, {"message": "this agent has no docker containerizer"}, None
        task = self.docker.launch(json.loads(body.decode("utf-8")))
        return 202, {"id": task["id"], "state": task["state"]}, None

    def kill_task(self, body):
        request = json.loads(body.decode("utf-8"))
        if self.docker is None or not self.docker.kill(request["task_id"], int(request.get("grace", 3))):
            return 404, {"message": "unknown task %s" % request["task_id"]}, None
        return 200, {"task_id": request["task_id"]}, None

    def state(self, _body):
        return 200, {
            "version": MESOS_VERSION, "build_user": STANDIN, "id": self.id, "pid": self.pid,
            "hostname": self.hostname, "resources": self.resources, "attributes": self.attributes,
            "master_hostname": (self.master or {}).get("hostname"), "registered": self.registered,
            "start_time": self.started, "flags": self.flags,
            "frameworks": [{"tasks": self.docker.report()}] if self.docker else [],
        }, None


# -- the packages' init wrapper ----------------------------------------------------------------------------
def wrapper_arguments(kind, etc="/etc"):
    """Flags from /etc/mesos/zk and /etc/mesos-<kind>/* as the packages' mesos-init-wrapper builds them."""
    args = []
    zk_file = os.path.join(etc, "mesos", "zk")
    if os.path.exists(zk_file):
        with open(zk_file, encoding="utf-8") as handle:
            zk_url = handle.read().strip()
        if zk_url:
            args.append(("--zk=" if kind == "master" else "--master=") + zk_url)
    conf_dir = os.path.join(etc, "mesos-" + kind)
    if os.path.isdir(conf_dir):
        for name in sorted(os.listdir(conf_dir)):
            path = os.path.join(conf_dir, name)
            if not os.path.isfile(path):
                continue
            if name.startswith("?"):
                args.append("--" + name[1:])
                continue
            with open(path, encoding="utf-8") as handle:
                args.append("--%s=%s" % (name, handle.read().strip()))
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="mesos_standin.py",
        description="STAND-IN for Apache Mesos %s (shepherd tests only, NOT Apache Mesos): mesos-master, "
                    "mesos-agent and the packages' mesos-init-wrapper. See the module docstring." % MESOS_VERSION)
    parser.add_argument("command", choices=["master", "agent", "init-wrapper"],
                        help="the daemon to run, or init-wrapper master|slave to run one from /etc/mesos*")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="--name=value flags as the real daemon takes")
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    args = parser.parse_args(argv[:1])
    rest = argv[1:]
    if args.command == "init-wrapper":
        if not rest or rest[0] not in ("master", "slave"):
            sys.stderr.write("usage: mesos-init-wrapper master|slave\n")
            return 1
        daemon = "master" if rest[0] == "master" else "agent"
        return main([daemon] + wrapper_arguments(rest[0]) + rest[1:])
    name = "mesos-" + args.command
    cls, known = (Master, MASTER_FLAGS) if args.command == "master" else (Agent, AGENT_FLAGS)
    try:
        flags = load_flags(rest, os.environ, known)
        cls.validate(flags)
        daemon_obj = cls(flags)
    except (ConfigError, ValueError, OSError) as exc:
        log(name, "refusing to start: %s" % exc)
        sys.stderr.write("%s (%s)\n" % (exc, STANDIN))
        return 1
    log(name, "%s %s starting with flags %s" % (STANDIN, MESOS_VERSION, sorted(flags)))
    daemon_obj.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
