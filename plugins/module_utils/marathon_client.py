# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small Marathon REST API v2 client on ansible.module_utils.urls.open_url.

* a list of base URLs, with failover to the next one on connection errors (and on 5xx answers);
* HTTP basic auth, or the DC/OS ``Authorization: token=...`` header;
* ``validate_certs``, ``ca_path`` and a per-request ``timeout``;
* retries with exponential backoff on 5xx, including the 502 "Could not determine the current leader";
* errors (``MarathonError``) that carry Marathon's ``message`` and ``details``;
* waiting for deployments (a deployment is finished when it leaves ``GET /v2/deployments``) and for tasks.
"""

import json
import re
import socket
import ssl
import time

from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

RETRY_STATUSES = (500, 502, 503, 504)
SEGMENT_RE = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
RESERVED_LAST_SEGMENTS = ("restart", "tasks", "versions")


def marathon_argument_spec():
    """The connection options every Marathon module takes (see the shepherd.fleet.marathon doc fragment)."""
    return dict(
        url=dict(type="list", elements="str", required=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        token=dict(type="str", no_log=True),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=10),
    )


MARATHON_REQUIRED_TOGETHER = [("username", "password")]
MARATHON_MUTUALLY_EXCLUSIVE = [("token", "username")]


class MarathonError(Exception):
    """An error answer from Marathon (``status`` set) or a failure to reach it (``status`` None)."""

    def __init__(self, message, status=None, marathon_message=None, details=None, body=None, method=None,
                 url=None, deployments=None):
        super(MarathonError, self).__init__(message)
        self.message = message
        self.status = status
        self.marathon_message = marathon_message
        self.details = details
        self.body = body
        self.method = method
        self.url = url
        self.deployments = deployments or []
        self.permanent = False  # retrying cannot help (e.g. a TLS certificate that does not validate)

    @property
    def locked(self):
        """True for the 409 "App is locked by one or more deployments" answer."""
        return self.status == 409 and bool(self.deployments)

    def fail_kwargs(self):
        """Keyword arguments for module.fail_json: Marathon's message and details, the status and the request."""
        out = dict(msg=self.message, status=self.status, url=self.url, method=self.method)
        if self.marathon_message is not None:
            out["marathon_message"] = self.marathon_message
        if self.details is not None:
            out["details"] = self.details
        if self.deployments:
            out["deployments"] = self.deployments
        return out


class MarathonTimeout(MarathonError):
    """Waiting for a deployment or for tasks took longer than allowed."""


def format_details(details):
    """Marathon's 422 ``details`` (a list of {path, errors}, or a string) as one readable line."""
    if not details:
        return ""
    if isinstance(details, list):
        parts = []
        for item in details:
            if isinstance(item, dict):
                parts.append("%s: %s" % (item.get("path", "?"), "; ".join(to_text(e) for e in item.get("errors", []))))
            else:
                parts.append(to_text(item))
        return ", ".join(parts)
    return to_text(details)


def normalize_app_id(raw, base="/"):
    """Marathon's PathId: strip slashes, drop empty segments, resolve '.' and '..', make absolute.

    ``foo``, ``/foo``, ``//foo/`` and ``foo/`` all give ``/foo``. Raises ValueError for what Marathon rejects
    with 422 (uppercase, ``_``, a label starting or ending with ``-``, a reserved last segment).
    """
    if not isinstance(raw, str) or not raw.strip("/"):
        raise ValueError("an app id must be a non-empty string, got %r" % (raw,))
    parts = [p for p in raw.split("/") if p]
    for part in parts:
        if part not in (".", "..") and not SEGMENT_RE.match(part):
            raise ValueError(
                "segment %r of %r is not a valid Marathon id: only lowercase letters, digits, '-' (not at the start "
                "or end) and '.' are allowed" % (part, raw))
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
    if not resolved:
        raise ValueError("app id %r resolves to the root group" % (raw,))
    if resolved[-1] in RESERVED_LAST_SEGMENTS:
        raise ValueError("the last segment of an app id may not be %r" % resolved[-1])
    return "/" + "/".join(resolved)


def parent_id(app_id):
    return app_id.rsplit("/", 1)[0] or "/"


class MarathonResponse(object):
    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers
        self.data = data

    @property
    def deployment_id(self):
        """The deployment a change created: the body's deploymentId, else the Marathon-Deployment-Id header."""
        if isinstance(self.data, dict) and self.data.get("deploymentId"):
            return self.data["deploymentId"]
        if isinstance(self.data, dict) and self.data.get("deployments"):
            return self.data["deployments"][0].get("id")
        return self.headers.get("Marathon-Deployment-Id")


class MarathonClient(object):
    """Talks to one Marathon cluster through a list of URLs (any master; non-leaders proxy to the leader)."""

    def __init__(self, urls, username=None, password=None, token=None, validate_certs=True, ca_path=None,
                 timeout=10, retries=3, backoff=0.5, poll_interval=0.1, max_poll_interval=2.0, sleep=time.sleep):
        if isinstance(urls, str):
            urls = [urls]
        self.urls = [u.rstrip("/") for u in urls if u and u.strip()]
        if not self.urls:
            raise MarathonError("url: at least one Marathon URL is needed")
        self.username = username
        self.password = password
        self.token = token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.sleep = sleep
        self.current = 0
        self.requests = 0

    @classmethod
    def from_module(cls, module):
        p = module.params
        return cls(p["url"], username=p.get("username"), password=p.get("password"), token=p.get("token"),
                   validate_certs=p.get("validate_certs", True), ca_path=p.get("ca_path"),
                   timeout=p.get("timeout") or 10)

    # -- transport -----------------------------------------------------------------------------------------------
    def _open(self, method, url, data, headers):
        kwargs = dict(method=method, data=data, headers=headers, timeout=self.timeout,
                      validate_certs=self.validate_certs, ca_path=self.ca_path, follow_redirects="safe",
                      use_netrc=False)
        if self.username is not None:
            kwargs.update(url_username=self.username, url_password=self.password, force_basic_auth=True)
        return open_url(url, **kwargs)

    @staticmethod
    def _decode(raw, content_type):
        text = to_text(raw or b"", errors="surrogate_or_replace")
        if not text.strip():
            return None
        if "json" in (content_type or "") or text.lstrip()[:1] in ("{", "[", '"'):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text

    def _error(self, method, url, status, body, reason=None):
        marathon_message = details = None
        deployments = None
        if isinstance(body, dict):
            marathon_message = body.get("message")
            details = body.get("details")
            deployments = body.get("deployments")
        elif body:
            # Jetty-level answers (basic-auth 401, proxy 502) are HTML or text: keep them short and readable.
            marathon_message = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", to_text(body))).strip()[:300]
        text = marathon_message or reason or "no message"
        if details:
            text = "%s (%s)" % (text, format_details(details))
        message = "Marathon answered %s to %s %s: %s" % (status, method, url, text)
        return MarathonError(message, status=status, marathon_message=marathon_message, details=details,
                             body=body, method=method, url=url, deployments=deployments)

    def request(self, method, path, params=None, body=None):
        """One API call with failover and retries. Returns a MarathonResponse; raises MarathonError."""
        query = ""
        if params:
            pairs = []
            for key, value in params.items():
                values = value if isinstance(value, (list, tuple)) else [value]
                for v in values:
                    if v is None:
                        continue
                    pairs.append((key, ("true" if v else "false") if isinstance(v, bool) else to_native(v)))
            query = ("?" + urlencode(pairs)) if pairs else ""
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "token=%s" % self.token
        attempt = 0
        while True:
            last = None
            for offset in range(len(self.urls)):
                index = (self.current + offset) % len(self.urls)
                url = self.urls[index] + path + query
                self.requests += 1
                try:
                    resp = self._open(method, url, data, headers)
                except HTTPError as err:
                    try:
                        raw = err.read()
                    except Exception:  # pylint: disable=broad-except
                        raw = b""
                    content_type = err.headers.get("Content-Type") if err.headers else None
                    last = self._error(method, url, err.code, self._decode(raw, content_type), to_text(err.reason))
                    if err.code in RETRY_STATUSES:
                        continue  # another master may answer; after a full round, back off and retry
                    self.current = index
                    raise last
                except (URLError, UrlsConnectionError, SSLValidationError, socket.timeout, socket.error,
                        ValueError) as err:
                    reason = getattr(err, "reason", err)
                    last = MarathonError("Cannot reach Marathon at %s: %s" % (url, to_text(reason)), method=method,
                                         url=url)
                    # A certificate that does not validate will not validate on a retry either.
                    last.permanent = isinstance(err, SSLValidationError) or isinstance(reason, ssl.SSLError)
                    continue  # fail over to the next URL
                else:
                    self.current = index
                    raw = resp.read()
                    resp_headers = dict((k.title(), v) for k, v in resp.headers.items())
                    return MarathonResponse(resp.getcode(), resp_headers,
                                            self._decode(raw, resp_headers.get("Content-Type")))
            if attempt >= self.retries or last.permanent:
                if last.status is None and len(self.urls) > 1:
                    last.message = "Cannot reach any Marathon URL (%s); last error: %s" % (
                        ", ".join(self.urls), last.message)
                    last.args = (last.message,)
                raise last
            self.sleep(self.backoff * (2 ** attempt))
            attempt += 1

    # -- API calls ------------------------------------------------------------------------------------------------
    @staticmethod
    def app_path(app_id):
        return "/v2/apps" + quote(app_id, safe="/")

    def get_app(self, app_id, embed=None):
        """The app (``GET /v2/apps/{id}``, with counts, tasks and deployments), or None when it does not exist."""
        try:
            return self.request("GET", self.app_path(app_id), params={"embed": embed} if embed else None).data["app"]
        except MarathonError as err:
            if err.status == 404:
                return None
            raise

    def list_apps(self, id_filter=None, label=None, embed=None):
        params = {"id": id_filter, "label": label, "embed": embed}
        return self.request("GET", "/v2/apps", params=params).data["apps"]

    def put_app(self, app_id, body, force=False, partial=True):
        return self.request("PUT", self.app_path(app_id), params={"force": force, "partialUpdate": partial},
                            body=body)

    def delete_app(self, app_id, force=False):
        return self.request("DELETE", self.app_path(app_id), params={"force": force})

    def restart_app(self, app_id, force=False):
        return self.request("POST", self.app_path(app_id) + "/restart", params={"force": force})

    def put_apps(self, bodies, force=False, partial=True):
        return self.request("PUT", "/v2/apps", params={"force": force, "partialUpdate": partial}, body=bodies)

    def get_group(self, group_id, embed=None):
        try:
            return self.request("GET", "/v2/groups" + quote(group_id.rstrip("/"), safe="/"),
                                params={"embed": embed} if embed else None).data
        except MarathonError as err:
            if err.status == 404:
                return None
            raise

    def put_group(self, group_id, body, force=False):
        return self.request("PUT", "/v2/groups" + quote(group_id, safe="/"), params={"force": force}, body=body)

    def delete_group(self, group_id, force=False):
        return self.request("DELETE", "/v2/groups" + quote(group_id, safe="/"), params={"force": force})

    def list_deployments(self):
        return self.request("GET", "/v2/deployments").data or []

    def delete_deployment(self, deployment_id, force=False):
        return self.request("DELETE", "/v2/deployments/" + quote(deployment_id, safe=""), params={"force": force})

    def info(self):
        return self.request("GET", "/v2/info").data

    # -- waiting ----------------------------------------------------------------------------------------------------
    def _pause(self, interval):
        self.sleep(interval)
        return min(interval * 1.5, self.max_poll_interval)

    def wait_for_deployments(self, deployment_ids, deadline):
        """Poll ``GET /v2/deployments`` until none of ``deployment_ids`` is listed (Marathon keeps no history: a
        finished deployment just disappears; a stuck one stays forever, hence the deadline)."""
        wanted = set(d for d in deployment_ids if d)
        interval = self.poll_interval
        while wanted:
            running = dict((d.get("id"), d) for d in self.list_deployments())
            still = wanted & set(running)
            if not still:
                return
            if time.time() >= deadline:
                doing = []
                for dep_id in sorted(still):
                    actions = running[dep_id].get("currentActions") or []
                    doing.append("%s (%s)" % (dep_id, ", ".join(
                        "%s %s" % (a.get("action"), a.get("app") or a.get("pod")) for a in actions) or "no actions"))
                raise MarathonTimeout("Timed out waiting for Marathon deployment(s) to finish; still running: %s"
                                      % "; ".join(doing), deployments=[{"id": d} for d in sorted(still)])
            interval = self._pause(interval)

    @staticmethod
    def app_ready(app):
        """Deployments done, tasksRunning >= instances, and tasksHealthy >= instances when there are health checks
        (tasksHealthy counts only tasks with health results, so it stays 0 without health checks)."""
        if app.get("deployments"):
            return False
        instances = app.get("instances", 0)
        if app.get("tasksRunning", 0) < instances:
            return False
        if app.get("healthChecks") and app.get("tasksHealthy", 0) < instances:
            return False
        return True

    def wait_for_app(self, app_id, deadline, app=None):
        """Poll the app until app_ready(); returns the last app seen."""
        interval = self.poll_interval
        while True:
            if app is None:
                app = self.get_app(app_id)
                if app is None:
                    raise MarathonError("App '%s' disappeared while waiting for it" % app_id, status=404)
            if self.app_ready(app):
                return app
            if time.time() >= deadline:
                raise MarathonTimeout(
                    "Timed out waiting for app %s: %s of %s instances running, %s healthy, deployments %s"
                    % (app_id, app.get("tasksRunning", 0), app.get("instances", 0), app.get("tasksHealthy", 0),
                       [d.get("id") for d in app.get("deployments") or []]))
            interval = self._pause(interval)
            app = None

    def retry_when_locked(self, call, deadline):
        """Run ``call()``; on a 409 lock, wait (until ``deadline``) for the blocking deployments, then try again.
        When the lock outlives the deadline, raise Marathon's own message, naming the blocking deployments."""
        while True:
            try:
                return call()
            except MarathonError as err:
                if not err.locked:
                    raise
                blocking = [d.get("id") for d in err.deployments]
                try:
                    if time.time() >= deadline:
                        raise MarathonTimeout("deadline reached")
                    self.wait_for_deployments(blocking, deadline)
                except MarathonTimeout:
                    err.message = "%s (still locked by deployment(s) %s after waiting for them; force=true would " \
                                  "cancel them)" % (err.message, ", ".join(blocking))
                    err.args = (err.message,)
                    raise err


def run_and_exit(module, runner_class, *args):
    """Run ``runner_class(module, client, *args).run()`` and exit the module with its result. On a MarathonError,
    fail with Marathon's message and details, keeping what the runner had already done (its ``result``)."""
    runner = None
    try:
        runner = runner_class(module, MarathonClient.from_module(module), *args)
        result = runner.run()
    except MarathonError as err:
        failed = dict(runner.result) if runner else {}
        failed.update(err.fail_kwargs())
        module.fail_json(**failed)
    module.exit_json(**result)
