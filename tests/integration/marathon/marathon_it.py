"""Helpers for the Marathon integration tests: direct calls to the stand-in, for setup and inspection."""

import json
import pathlib
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[3]


def api(standin, method, path, body=None):
    """A direct call to the stand-in (test setup and inspection), bypassing the modules."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(standin.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def requests_seen(standin):
    """(method, path) of every Marathon API request the stand-in answered (test endpoints excluded)."""
    with standin.state.lock:
        return [(r["method"], r["path"], r.get("status")) for r in standin.state.requests]


def reset_requests(standin):
    with standin.state.lock:
        standin.state.requests = []


def uri(standin, path, method="GET", body=None, name=None, status=200):
    """A playbook task calling the stand-in's test-only endpoints (never counted as Marathon requests)."""
    task = {"name": name or "%s %s" % (method, path),
            "ansible.builtin.uri": {"url": standin.url + path, "method": method, "status_code": [status]}}
    if body is not None:
        task["ansible.builtin.uri"].update(body_format="json", body=body)
    if method == "GET":
        task["register"] = "seen"
    return task
