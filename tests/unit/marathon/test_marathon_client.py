"""The Marathon client's transport rules (failover, retries, errors, auth headers), on a scripted open_url."""

import io
import json
import ssl
from urllib.error import HTTPError, URLError

import pytest
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import MarathonClient, MarathonError


class FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = json.dumps(body).encode() if body is not None else b""
        self.headers = dict({"Content-Type": "application/json"}, **(headers or {}))

    def read(self):
        return self.body

    def getcode(self):
        return self.status


def http_error(url, status, body, content_type="application/json"):
    raw = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
    return HTTPError(url, status, "reason %d" % status, {"Content-Type": content_type}, io.BytesIO(raw))


def scripted_client(script, urls=("http://m1:8080", "http://m2:8080"), **kwargs):
    """A client whose open_url answers from ``script``: a list of (url prefix, response or exception)."""
    seen, sleeps = [], []
    client = MarathonClient(list(urls), sleep=sleeps.append, **kwargs)

    def fake_open(method, url, data, headers):
        seen.append((method, url, headers))
        prefix, answer = script.pop(0)
        assert url.startswith(prefix), "expected a request to %s, got %s" % (prefix, url)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client._open = fake_open  # pylint: disable=protected-access
    return client, seen, sleeps


def test_connection_error_fails_over_and_sticks_to_the_master_that_answered():
    client, seen, sleeps = scripted_client([
        ("http://m1:8080", URLError("Connection refused")),
        ("http://m2:8080", FakeResponse(200, {"app": {"id": "/a"}})),
        ("http://m2:8080", FakeResponse(200, {"apps": []})),
    ])
    assert client.get_app("/a") == {"id": "/a"}
    assert client.list_apps() == []
    assert [u for m, u, h in seen] == ["http://m1:8080/v2/apps/a", "http://m2:8080/v2/apps/a", "http://m2:8080/v2/apps"]
    assert sleeps == []


def test_502_no_leader_is_retried_with_backoff_then_reported():
    script = [(u, http_error(u, 502, "Could not determine the current leader", "text/plain"))
              for _round in range(4) for u in ("http://m1:8080", "http://m2:8080")]
    client, seen, sleeps = scripted_client(script)
    with pytest.raises(MarathonError) as caught:
        client.info()
    assert caught.value.status == 502 and "Could not determine the current leader" in str(caught.value)
    assert len(seen) == 8 and sleeps == [0.5, 1.0, 2.0]


def test_422_carries_marathons_message_and_details_and_is_not_retried():
    body = {"message": "Object is not valid",
            "details": [{"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["is greater than 1"]}]}
    client, seen, sleeps = scripted_client([("http://m1:8080", http_error("http://m1:8080", 422, body))])
    with pytest.raises(MarathonError) as caught:
        client.put_app("/a", {"cmd": "x"})
    err = caught.value
    assert err.status == 422 and err.marathon_message == "Object is not valid" and err.details == body["details"]
    assert "/upgradeStrategy/minimumHealthCapacity: is greater than 1" in err.message
    assert len(seen) == 1 and sleeps == []
    assert err.fail_kwargs()["details"] == body["details"]


def test_basic_auth_401_html_body_is_made_readable():
    html = "<html><body><h2>HTTP ERROR 401</h2><pre>Unauthorized</pre></body></html>"
    client, seen, sleeps = scripted_client([("http://m1:8080", http_error("http://m1:8080", 401, html, "text/html"))])
    with pytest.raises(MarathonError) as caught:
        client.get_app("/a")
    assert caught.value.status == 401 and caught.value.marathon_message == "HTTP ERROR 401 Unauthorized"
    assert not sleeps and len(seen) == 1


def test_token_header_and_query_booleans():
    client, seen, sleeps = scripted_client([("http://m1:8080", FakeResponse(200, {"deploymentId": "d1"}))],
                                           token="jwt")
    response = client.put_app("/a/b", {"instances": 2}, force=False, partial=True)
    method, url, headers = seen[0]
    assert method == "PUT" and url == "http://m1:8080/v2/apps/a/b?force=false&partialUpdate=true"
    assert headers["Authorization"] == "token=jwt" and headers["Content-Type"] == "application/json"
    assert response.deployment_id == "d1" and not sleeps


def test_deployment_id_falls_back_to_the_header():
    client, seen, sleeps = scripted_client([("http://m1:8080", FakeResponse(
        202, None, {"Marathon-Deployment-Id": "d2"}))])
    assert client.delete_deployment("d1", force=True).deployment_id == "d2"
    assert len(seen) == 1 and not sleeps


def test_a_409_lock_is_waited_out_then_the_call_is_repeated():
    locked = {"message": "App is locked by one or more deployments. Override with the option '?force=true'. "
                         "View details at '/v2/deployments/d0'.", "deployments": [{"id": "d0"}]}
    client, seen, sleeps = scripted_client([
        ("http://m1:8080", http_error("http://m1:8080", 409, locked)),
        ("http://m1:8080", FakeResponse(200, [{"id": "d0"}])),
        ("http://m1:8080", FakeResponse(200, [])),
        ("http://m1:8080", FakeResponse(200, {"deploymentId": "d1"})),
    ])
    response = client.retry_when_locked(lambda: client.put_app("/a", {"instances": 2}), deadline=1e12)
    assert response.deployment_id == "d1"
    assert [m for m, u, h in seen] == ["PUT", "GET", "GET", "PUT"] and len(sleeps) == 1


def test_a_lock_that_outlives_the_deadline_fails_with_marathons_message():
    locked = {"message": "App is locked by one or more deployments. Override with the option '?force=true'.",
              "deployments": [{"id": "d0"}]}
    client, seen, sleeps = scripted_client([
        ("http://m1:8080", http_error("http://m1:8080", 409, locked)),
    ])
    with pytest.raises(MarathonError) as caught:
        client.retry_when_locked(lambda: client.put_app("/a", {"instances": 2}), deadline=1.0)
    assert caught.value.locked and "App is locked" in caught.value.message and "d0" in caught.value.message
    assert len(seen) == 1 and not sleeps  # past the deadline already: no waiting at all


def test_a_certificate_that_does_not_validate_is_not_retried():
    bad_cert = URLError(ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate"))
    client, seen, sleeps = scripted_client([("http://m1:8080", bad_cert), ("http://m2:8080", bad_cert)])
    with pytest.raises(MarathonError) as caught:
        client.get_app("/a")
    assert "certificate verify failed" in str(caught.value) and "Cannot reach any Marathon URL" in str(caught.value)
    assert len(seen) == 2 and sleeps == []  # each URL tried once, no backoff rounds
