# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Compare a wanted Marathon app definition with what Marathon returns for the app.

Marathon fills in defaults, assigns service ports for ``port: 0``, migrates deprecated fields, returns set-like
lists in any order, numbers as ints or floats, and (1.5+) leaves out empty collections. So only what the user
wrote is compared, after normalising both sides:

* fields Marathon fills in and the user did not set are ignored (unless ``replace``: then they must be at their
  defaults);
* ``constraints``, ``healthChecks``, ``dependencies`` and ``acceptedResourceRoles`` are compared as multisets;
* nested objects compare the keys the user set, except value maps (``env``, ``labels``, ``secrets``), which compare
  whole;
* a missing value, ``null``, ``[]``, ``{}`` and ``""`` are the same; numbers compare numerically;
* ``port: 0`` / ``servicePort: 0`` match whatever port Marathon assigned.
"""

import copy

from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import normalize_app_id, parent_id

# What GET returns and a PUT must never send back ("version" in a PUT body means rollback).
READ_ONLY_FIELDS = (
    "version", "versionInfo", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments",
    "tasks", "lastTaskFailure", "readinessCheckResults", "taskStats", "taskCounts",
)
SET_FIELDS = ("constraints", "healthChecks", "dependencies", "acceptedResourceRoles")
VALUE_MAPS = ("env", "labels", "secrets")
NUMERIC_FIELDS = ("instances", "cpus", "mem", "disk", "gpus", "backoffSeconds", "backoffFactor",
                  "maxLaunchDelaySeconds", "taskKillGracePeriodSeconds")
ASSIGNED_PORT_KEYS = ("port", "servicePort")
# Marathon 1.10's defaults for top-level fields (SEMANTICS.md section 3).
APP_DEFAULTS = {
    "instances": 1, "cpus": 1, "mem": 128, "disk": 0, "gpus": 0, "executor": "", "backoffSeconds": 1,
    "backoffFactor": 1.15, "maxLaunchDelaySeconds": 300, "labels": {}, "requirePorts": False,
    "killSelection": "YOUNGEST_FIRST", "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
    "networks": [{"mode": "host"}],
}
# Filled in by the server from its own configuration; never "reset" by replace.
SERVER_FILLED = ("role",)
EMPTY = (None, "", [], {})


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_empty(value):
    return value is None or (not _is_number(value) and not isinstance(value, bool) and value in EMPTY)


def _coerce_number(value):
    """'0.5' -> 0.5 and '3' -> 3, for numbers that arrive as strings from templates."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def prepare_definition(definition, app_id, instances=None):
    """The wanted definition as Marathon will see it: id normalised, read-only fields dropped (returned as the
    second value, for a warning), numbers coerced, relative dependencies resolved, deprecated forms migrated."""
    wanted = copy.deepcopy(definition or {})
    dropped = sorted(k for k in wanted if k in READ_ONLY_FIELDS)
    for key in dropped:
        del wanted[key]
    wanted["id"] = app_id
    if instances is not None:
        wanted["instances"] = instances
    for key in NUMERIC_FIELDS:
        if key in wanted:
            wanted[key] = _coerce_number(wanted[key])
    if wanted.get("dependencies"):
        wanted["dependencies"] = [normalize_app_id(d, parent_id(app_id)) for d in wanted["dependencies"]]
    # Deprecated input that Marathon migrates and never writes back.
    if "uris" in wanted:
        uris = wanted.pop("uris") or []
        wanted.setdefault("fetch", [{"uri": u} for u in uris])
    if "ports" in wanted:
        ports = wanted.pop("ports") or []
        wanted.setdefault("portDefinitions", [{"port": p} for p in ports])
    if isinstance(wanted.get("ipAddress"), dict):
        ip = wanted.pop("ipAddress")
        network = {"mode": "container"}
        if ip.get("networkName"):
            network["name"] = ip["networkName"]
        wanted.setdefault("networks", [network])
    container = wanted.get("container")
    if isinstance(container, dict) and isinstance(container.get("docker"), dict):
        docker = container["docker"]
        mode = docker.pop("network", None)
        if mode:
            wanted.setdefault("networks", [{"mode": {"HOST": "host", "BRIDGE": "container/bridge"}.get(
                mode, "container")}])
        if "portMappings" in docker:
            container.setdefault("portMappings", docker.pop("portMappings"))
    return wanted, dropped


def values_equal(wanted, current, key=None):
    """True when ``current`` (from Marathon) satisfies ``wanted`` (from the user). ``key`` is the field name
    the values sit under; it selects the rules for sets, value maps and assigned ports."""
    if _is_empty(wanted) and _is_empty(current):
        return True
    if current is None and (wanted is False or (_is_number(wanted) and wanted == 0)):
        return True  # an Option Marathon 1.5+ leaves out when false/0
    if key in ASSIGNED_PORT_KEYS and wanted == 0 and _is_number(current):
        return True  # port 0: "assign one", never echoed back
    if _is_number(wanted) and _is_number(current):
        return abs(float(wanted) - float(current)) < 1e-9
    if isinstance(wanted, dict):
        current = current or {}
        if not isinstance(current, dict):
            return False
        if key in VALUE_MAPS:
            if set(wanted) != set(current):
                return False
        return all(values_equal(v, current.get(k), k) for k, v in wanted.items())
    if isinstance(wanted, list):
        current = current or []
        if not isinstance(current, list) or len(wanted) != len(current):
            return False
        if key in SET_FIELDS:
            return _multiset_equal(wanted, current)
        return all(values_equal(w, c, key) for w, c in zip(wanted, current))
    if isinstance(wanted, bool) or isinstance(current, bool):
        return wanted is current or (current is None and wanted is False)
    return wanted == current


def _multiset_equal(wanted, current):
    unused = list(current)
    for item in wanted:
        for index, candidate in enumerate(unused):
            if values_equal(item, candidate):
                del unused[index]
                break
        else:
            return False
    return not unused


def _is_default(key, value):
    """Is ``value`` (a top-level field Marathon returned) what Marathon would fill in when the field is left out?"""
    if _is_empty(value):
        return True
    if key == "portDefinitions":
        return (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)
                and value[0].get("name") in (None, "default") and value[0].get("protocol", "tcp") == "tcp"
                and not value[0].get("labels"))
    if key == "maxLaunchDelaySeconds" and value == 3600:
        return True  # the default up to 1.7
    if key in APP_DEFAULTS:
        return values_equal(APP_DEFAULTS[key], value, key) and (
            not isinstance(value, dict) or set(value) <= set(APP_DEFAULTS[key]))
    return False


def app_config(app):
    """An app from GET without the read-only fields: what may be sent back (never ``version``)."""
    return dict((k, copy.deepcopy(v)) for k, v in (app or {}).items() if k not in READ_ONLY_FIELDS)


def compare_app(wanted, current, replace=False):
    """Compare a prepared wanted definition with the current app (from GET).

    Returns ``(changed_fields, before, after)``: the top-level fields that differ (sorted), and the before/after
    values of every field the user manages (and, with ``replace``, of fields that will be reset), for diff mode.
    """
    current = app_config(current)
    changed, before, after = [], {}, {}
    for key in sorted(wanted):
        if key == "id":
            continue
        before[key] = current.get(key)
        if values_equal(wanted[key], current.get(key), key):
            after[key] = current.get(key)
        else:
            changed.append(key)
            after[key] = wanted[key]
    if replace:
        for key in sorted(current):
            if key in wanted or key == "id" or key in SERVER_FILLED:
                continue
            if not _is_default(key, current[key]):
                changed.append(key)
                before[key] = current[key]
                after[key] = copy.deepcopy(APP_DEFAULTS.get(key))
    return sorted(changed), before, after


def update_body(wanted, current, changed, replace=False):
    """The PUT body. Partial update: only the changed top-level fields (Marathon replaces each one wholesale and
    keeps the rest, including its assigned service ports). Replace (``partialUpdate=false``): the whole wanted
    definition, with unchanged fields taken from the current app so assigned ports stay put."""
    if not replace:
        return dict((k, copy.deepcopy(wanted[k])) for k in changed if k in wanted)
    config = app_config(current)
    body = {}
    for key, value in wanted.items():
        body[key] = copy.deepcopy(value if key in changed or key not in config else config[key])
    for key in SERVER_FILLED:
        if key in config and key not in body:
            body[key] = config[key]
    body["id"] = wanted["id"]
    return body


def predict_app(wanted, current, changed, replace=False):
    """What the app should look like after the update (check mode): current overlaid with the wanted fields."""
    if current is None:
        return copy.deepcopy(wanted)
    predicted = app_config(current)
    if replace:
        for key in changed:
            if key not in wanted:
                if key in APP_DEFAULTS:
                    predicted[key] = copy.deepcopy(APP_DEFAULTS[key])
                else:
                    predicted.pop(key, None)
    for key in changed:
        if key in wanted:
            predicted[key] = copy.deepcopy(wanted[key])
    return predicted
