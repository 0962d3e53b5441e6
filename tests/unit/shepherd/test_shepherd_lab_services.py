"""`lab status` lists a service only when a request that only that service answers gets a 200."""

import http.server
import json
import socket
import threading

import pytest

from shepherd.lab.services import SERVICES, Service, find_endpoints, marathon_tasks


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the name http.server calls
        self.send_response(200 if self.path == "/v2/info" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(name="marathon_like")
def fixture_marathon_like():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_services_are_told_apart_by_their_probe(marathon_like):
    closed = free_port()
    services = [
        Service("Marathon API", (marathon_like,), "/v2/info", "/v2/apps"),
        Service("cAdvisor", (marathon_like, closed), "/api/v2.0/version", "/containers/"),  # same port, other probe
        Service("ZooKeeper", (marathon_like, closed), None),  # TCP only
    ]
    found = find_endpoints([("master1", "127.0.0.1")], services)
    assert [(e.service, e.host, e.url) for e in found] == [
        ("Marathon API", "master1", f"http://127.0.0.1:{marathon_like}/v2/apps"),
        ("ZooKeeper", "master1", f"tcp://127.0.0.1:{marathon_like}"),
    ]
    assert not find_endpoints([], services)


TASKS = {
    "tasks": [
        {"appId": "/lab/web", "host": "agent2", "state": "TASK_RUNNING", "ipAddresses": [{"ipAddress": "10.0.0.230"}],
         "healthCheckResults": [{"alive": True}]},
        {"appId": "/lab/web", "host": "agent1", "state": "TASK_RUNNING", "ipAddresses": [{"ipAddress": "10.0.0.226"}],
         "healthCheckResults": [{"alive": False}]},
        {"appId": "/lab/clock", "host": "agent1", "state": "TASK_STAGING"},
        "not a task",
    ]
}


class TasksHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the name http.server calls
        body = json.dumps(TASKS).encode() if self.path == "/v2/tasks" else b""
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_marathon_tasks_say_where_each_runs_and_how_it_is():
    server = http.server.HTTPServer(("127.0.0.1", 0), TasksHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tasks = marathon_tasks(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert [(t.app, t.host, t.addresses, t.state) for t in tasks] == [
        ("/lab/clock", "agent1", "", "TASK_STAGING"),
        ("/lab/web", "agent1", "10.0.0.226", "TASK_RUNNING, UNHEALTHY"),
        ("/lab/web", "agent2", "10.0.0.230", "TASK_RUNNING, healthy"),
    ]
    assert not marathon_tasks(f"http://127.0.0.1:{free_port()}")


def test_stand_ins_are_marked_in_the_endpoint_names():
    names = [service.name for service in SERVICES]
    assert [name for name in names if "STAND-IN" in name] == [
        "Mesos master (STAND-IN)", "Mesos agent (STAND-IN)", "Marathon API (STAND-IN)"
    ]
