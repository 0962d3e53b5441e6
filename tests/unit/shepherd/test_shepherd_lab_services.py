"""`lab status` lists a service only when a request that only that service answers gets a 200."""

import http.server
import socket
import threading

import pytest

from shepherd.lab.services import Service, find_endpoints


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
