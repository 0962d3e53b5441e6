"""Tasks that really run: the Marathon double, the Mesos master and agent stand-ins and a fake docker CLI.

The docker command line is checked argument by argument (what Mesos' docker containerizer would run), then
the whole chain runs in-process: the double hands a DOCKER app's tasks to the master, which places them on
agents by resources and constraints; the agents start, stop and report the fake containers.
"""

import json
import pathlib
import socket
import sys
import threading
import time
import urllib.request

import pytest

import docker_tasks
import mesos_standin

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "standins" / "marathon"))
import marathon_standin  # noqa: E402  pylint: disable=wrong-import-position

FAKE_DOCKER = pathlib.Path(__file__).with_name("fake_docker.py")


def test_run_argv_is_the_docker_containerizers_command_line():
    task = {"id": "web.1", "app_id": "/web", "app_version": "v1", "image": "busybox:local", "container_id": "c1",
            "cpus": 0.5, "mem": 64, "cmd": "httpd -f -p 80", "env": {"A": "b"}, "labels": {"team": "ops"},
            "networks": [{"mode": "container", "name": "flat"}], "host": "agent1",
            "parameters": [{"key": "volume-driver", "value": "cephfs"}, {"key": "volume", "value": "alice.data:/data"},
                           {"key": "ip", "value": "10.1.0.5"}],
            "port_mappings": [{"containerPort": 80, "protocol": "tcp"}, {"containerPort": 81}], "ports": [31000, None]}
    argv = docker_tasks.run_argv(task, "/usr/bin/docker", "/w/sandbox")
    assert argv[:3] == ["/usr/bin/docker", "run", "-d"]
    pairs = list(zip(argv, argv[1:]))
    assert ("--cpu-shares", "512") in pairs and ("--memory", str(64 * 1024 * 1024)) in pairs
    assert ("-e", "A=b") in pairs and ("-e", "MARATHON_APP_ID=/web") in pairs and ("-e", "HOST=agent1") in pairs
    assert ("-e", "PORT0=31000") in pairs and ("-e", "PORT1=81") in pairs and ("-e", "MESOS_TASK_ID=web.1") in pairs
    assert ("-v", "/w/sandbox:/mnt/mesos/sandbox") in pairs
    assert ("--net", "flat") in pairs and "--label=team=ops" in argv
    assert ("-p", "31000:80/tcp") in pairs and not any(a.startswith("81") or ":81/" in a for a in argv)
    assert ("--name", "mesos-c1") in pairs and ("--entrypoint", "/bin/sh") in pairs
    assert argv[-6:] == ["--volume-driver=cephfs", "--volume=alice.data:/data", "--ip=10.1.0.5", "busybox:local",
                         "-c", "httpd -f -p 80"]


@pytest.mark.parametrize("networks, parameters, expected", [
    ([{"mode": "host"}], [], "host"),
    ([{"mode": "container/bridge"}], [], "bridge"),
    ([{"mode": "container", "name": "flat"}], [], "flat"),
    ([{"mode": "container"}], [], None),
    ([{"mode": "container", "name": "flat"}], [{"key": "net", "value": "other"}], None),
])
def test_network_from_marathon_networks_and_parameters(networks, parameters, expected):
    assert docker_tasks.network_of({"networks": networks, "parameters": parameters}) == expected


def test_args_go_to_the_entrypoint_without_a_shell():
    argv = docker_tasks.run_argv({"id": "t", "image": "img", "container_id": "c", "args": ["serve", "--port", 8]})
    assert argv[-4:] == ["img", "serve", "--port", "8"] and "--entrypoint" not in argv


AGENTS = [{"id": "a1", "hostname": "node1", "containerizers": ["docker"], "attributes": {"rack": "r1"},
           "resources": {"cpus": 1.0, "mem": 256.0, "disk": 0.0, "ports": "[31000-31001]"}},
          {"id": "a2", "hostname": "node2", "containerizers": ["docker", "mesos"], "attributes": {"rack": "r2"},
           "resources": {"cpus": 1.0, "mem": 256.0, "disk": 0.0, "ports": "[31000-31001]"}},
          {"id": "a3", "hostname": "node3", "containerizers": ["mesos"], "attributes": {"rack": "r3"},
           "resources": {"cpus": 8.0, "mem": 8192.0, "disk": 0.0, "ports": "[31000-32000]"}}]


def running(task_id, agent_id, app_id="/web", **extra):
    return dict({"id": task_id, "agent_id": agent_id, "app_id": app_id, "state": "TASK_RUNNING", "cpus": 0.25,
                 "mem": 64.0, "ports": []}, **extra)


def test_place_spreads_over_docker_agents_and_respects_resources():
    agent, _ports = mesos_standin.place({"app_id": "/web", "cpus": 0.5, "mem": 64}, AGENTS, [running("t1", "a1")])
    assert agent["id"] == "a2"  # a3 has no docker containerizer, a1 already runs a task
    agent, reason = mesos_standin.place({"app_id": "/web", "cpus": 2, "mem": 64}, AGENTS, [])
    assert agent is None and "node1: not enough cpus" in reason and "node3: no docker containerizer" in reason


@pytest.mark.parametrize("constraint, tasks, expected", [
    (["rack", "UNIQUE"], [running("t1", "a1")], "a2"),
    (["rack", "UNIQUE"], [running("t1", "a1"), running("t2", "a2")], None),
    (["hostname", "CLUSTER", "node2"], [], "a2"),
    (["rack", "LIKE", "r[1]"], [running("t1", "a1"), running("t2", "a1")], "a1"),
    (["rack", "UNLIKE", "r1"], [], "a2"),
    (["rack", "MAX_PER", "1"], [running("t1", "a2")], "a1"),
    (["zone", "IS", "z1"], [], None),
])
def test_place_matches_marathon_constraints(constraint, tasks, expected):
    agent, _reason = mesos_standin.place({"app_id": "/web", "cpus": 0.1, "mem": 8, "constraints": [constraint]},
                                         AGENTS, tasks)
    assert (agent or {}).get("id") == expected


def test_place_picks_free_and_requested_host_ports():
    busy = [running("t1", "a1", app_id="/other", ports=[31000])]
    agent, ports = mesos_standin.place({"app_id": "/web", "cpus": 0.1, "mem": 8, "host_ports": [0, None]},
                                       AGENTS[:1], busy)
    assert agent["id"] == "a1" and ports == [31001, None]
    agent, reason = mesos_standin.place({"app_id": "/web", "cpus": 0.1, "mem": 8, "host_ports": [31000]},
                                        AGENTS[:1], busy)
    assert agent is None and "ports" in reason


# -- the whole chain, in-process -------------------------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8") or "null")


def wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in %ss" % timeout)


def containers(state_dir):
    out = {}
    for path in state_dir.glob("mesos-*.json"):
        out[path.stem] = json.loads(path.read_text())
    return out


@pytest.fixture(name="cluster")
def fixture_cluster(tmp_path, monkeypatch):
    state_dir = tmp_path / "docker"
    state_dir.mkdir()
    monkeypatch.setenv("FAKE_DOCKER_DIR", str(state_dir))
    docker = tmp_path / "docker.sh"
    docker.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, FAKE_DOCKER))
    docker.chmod(0o755)
    master_port = free_port()
    master = mesos_standin.Master({"work_dir": str(tmp_path / "master"), "port": str(master_port),
                                   "ip": "127.0.0.1", "hostname": "127.0.0.1"})
    threading.Thread(target=master.run, daemon=True).start()
    daemons = [master]
    for rack in ("r1", "r2"):
        flags = {"master": "127.0.0.1:%d" % master_port, "work_dir": str(tmp_path / rack), "docker": str(docker),
                 "containerizers": "docker,mesos", "port": str(free_port()), "ip": "127.0.0.1",
                 "hostname": "127.0.0.1", "resources": "cpus:1;mem:256;ports:[31000-31010]",
                 "attributes": "rack:" + rack}
        mesos_standin.Agent.validate(flags)
        daemons.append(mesos_standin.Agent(flags))
        threading.Thread(target=daemons[-1].run, daemon=True).start()
    wait_for(lambda: len(request("http://127.0.0.1:%d/master/state" % master_port)["slaves"]) == 2)
    double = marathon_standin.MarathonStandin(port=0, deploy_seconds=0.1, master="127.0.0.1:%d" % master_port,
                                              run_on_mesos=True).start()
    yield double, state_dir
    double.stop()
    for daemon in daemons:
        daemon.stop()


def app_tasks(double, app_id):
    return request(double.url + "/v2/apps" + app_id)["app"]["tasks"]


def test_docker_app_runs_scales_and_stops_on_the_agents(cluster):
    double, state_dir = cluster
    request(double.url + "/v2/apps", "POST", {
        "id": "/web", "cmd": "httpd -f", "instances": 2, "cpus": 0.5, "mem": 64, "env": {"A": "b"},
        "labels": {"team": "ops"}, "constraints": [["rack", "UNIQUE"]],
        "container": {"type": "DOCKER", "docker": {"image": "busybox:local", "parameters": [
            {"key": "volume-driver", "value": "cephfs"}, {"key": "volume", "value": "alice.data:/data"}]}},
        "networks": [{"mode": "container", "name": "flat"}],
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 1}]})

    def healthy():
        tasks = [t for t in app_tasks(double, "/web") if t["state"] == "TASK_RUNNING"
                 and t.get("healthCheckResults") and t["healthCheckResults"][0]["alive"]]
        return tasks if len(tasks) == 2 else None

    tasks = wait_for(healthy)
    assert len(tasks) == 2 and {t["host"] for t in tasks} == {"127.0.0.1"}
    assert {t["ipAddresses"][0]["ipAddress"] for t in tasks} <= {"172.30.0.2", "172.30.0.3"}
    running_now = containers(state_dir)
    assert len(running_now) == 2
    for container in running_now.values():
        argv = container["argv"]
        assert container["network"] == "flat" and "--volume-driver=cephfs" in argv and "--label=team=ops" in argv
        assert "--volume=alice.data:/data" in argv and argv[argv.index("busybox:local"):] == ["busybox:local", "-c",
                                                                                              "httpd -f"]
    app = request(double.url + "/v2/apps/web")["app"]
    assert app["tasksRunning"] == 2 and app["tasksHealthy"] == 2

    request(double.url + "/v2/apps/web", "PUT", {"instances": 1})
    wait_for(lambda: len(containers(state_dir)) == 1)
    assert len(app_tasks(double, "/web")) == 1

    request(double.url + "/v2/apps/web", "DELETE")
    wait_for(lambda: not containers(state_dir))


def test_a_third_unique_instance_waits_for_an_agent(cluster):
    double, state_dir = cluster
    request(double.url + "/v2/apps", "POST", {
        "id": "/uniq", "cmd": "sleep 1000", "instances": 3, "cpus": 0.1, "mem": 16, "constraints": [["rack", "UNIQUE"]],
        "container": {"type": "DOCKER", "docker": {"image": "busybox:local"}}})
    wait_for(lambda: len(containers(state_dir)) == 2)
    time.sleep(2)
    states = sorted(t["state"] for t in app_tasks(double, "/uniq"))
    assert states == ["TASK_RUNNING", "TASK_RUNNING", "TASK_STAGING"] and len(containers(state_dir)) == 2
    assert request(double.url + "/v2/deployments"), "the deployment lasts until every task runs"


def test_non_docker_apps_keep_simulated_tasks(cluster):
    double, state_dir = cluster
    request(double.url + "/v2/apps", "POST", {"id": "/plain", "cmd": "sleep 1000"})
    tasks = wait_for(lambda: [t for t in app_tasks(double, "/plain") if t["state"] == "TASK_RUNNING"])
    assert tasks[0]["host"] == "agent1.standin.invalid" and not containers(state_dir)


@pytest.mark.parametrize("app, host_ports", [
    ({"networks": [{"mode": "host"}], "portDefinitions": [{"port": 10001}, {"port": 10002}]}, [0, 0]),
    ({"networks": [{"mode": "host"}], "portDefinitions": [{"port": 10001}], "requirePorts": True}, [10001]),
    ({"networks": [{"mode": "container/bridge"}],
      "container": {"type": "DOCKER", "docker": {"image": "i"}, "portMappings": [{"containerPort": 80, "hostPort": 0}]}},
     [0]),
    ({"networks": [{"mode": "container", "name": "flat"}],
      "container": {"type": "DOCKER", "docker": {"image": "i"}, "portMappings": [{"containerPort": 80}]}}, [None]),
])
def test_task_spec_asks_for_the_host_ports_marathon_would(app, host_ports):
    import mesos_scheduler  # pylint: disable=import-outside-toplevel

    app = dict({"id": "/a", "version": "v", "container": {"type": "DOCKER", "docker": {"image": "i"}}}, **app)
    spec = mesos_scheduler.task_spec({"id": "a.1"}, app)
    assert spec["host_ports"] == host_ports and spec["image"] == "i"
