#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: marathon_group
short_description: Manage a Marathon group, its apps and its dependencies
version_added: 0.1.0
description:
  - Makes a Marathon group hold the listed apps (compared the way M(shepherd.fleet.marathon_app) compares, only what
    you set, ignoring defaults and the order of set-like lists) and the listed dependencies.
  - Changed and new apps go to Marathon in one request (C(PUT /v2/apps)), so they form one deployment.
  - Apps of the group that are not listed are left alone, unless O(remove_unlisted_apps=true). Marathon's own
    C(PUT /v2/groups) would stop them; this module never does that by surprise.
  - An unchanged group costs one request (C(GET /v2/groups/{id})) and reports C(changed=false).
author:
  - shepherd.fleet developers (@shepherd-fleet)
extends_documentation_fragment:
  - shepherd.fleet.marathon
  - shepherd.fleet.marathon.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  id:
    description: The group id, for example V(/prod).
    type: str
    required: true
  state:
    description:
      - V(present) makes the group hold the listed apps and dependencies.
      - V(absent) deletes the group with every app and subgroup in it.
    type: str
    choices: [present, absent]
    default: present
  apps:
    description:
      - App definitions (Marathon's app JSON as YAML). Each C(id) is relative to the group (V(web) is
        V(<group>/web)) or absolute, and must be inside the group.
    type: list
    elements: dict
    default: []
  dependencies:
    description:
      - Ids of the groups or apps this group depends on (relative ids are relative to the group's parent).
      - Left alone when not given; V([]) removes every dependency.
    type: list
    elements: str
  remove_unlisted_apps:
    description:
      - Remove the apps under the group (at any depth) that O(apps) does not list.
    type: bool
    default: false
  replace:
    description:
      - Each listed app definition is complete; fields it leaves out are reset to Marathon's defaults.
    type: bool
    default: false
  force:
    description:
      - Send C(force=true), cancelling deployments that hold the apps. When V(false), a 409 lock is waited out
        (at most O(wait_timeout)), then retried.
    type: bool
    default: false
  wait:
    description:
      - Wait for the deployments started, then for every listed app's tasks to run (and be healthy).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait in total.
    type: int
    default: 300
seealso:
  - module: shepherd.fleet.marathon_app
"""

EXAMPLES = r"""
- name: The /shop group with its two apps; the web app starts after the database
  shepherd.fleet.marathon_group:
    url: http://master1:8080
    id: /shop
    apps:
      - id: db
        cmd: postgres -D /data
        mem: 512
      - id: web
        cmd: shop-web --port $PORT0
        instances: 2
        dependencies: [/shop/db]

- name: The same, and stop every other app under /shop
  shepherd.fleet.marathon_group:
    url: http://master1:8080
    id: /shop
    remove_unlisted_apps: true
    apps:
      - id: db
        cmd: postgres -D /data
        mem: 512

- name: Remove the group and everything in it
  shepherd.fleet.marathon_group:
    url: http://master1:8080
    id: /shop
    state: absent
"""

RETURN = r"""
group:
  description: The group as Marathon returns it after the change (empty when absent).
  returned: always
  type: dict
  sample: {"id": "/shop", "apps": [], "groups": [], "dependencies": [], "version": "2021-01-01T00:00:00.000Z"}
created:
  description: Ids of the apps created.
  returned: always
  type: list
  elements: str
updated:
  description: Ids of the apps updated, with the fields that changed.
  returned: always
  type: dict
  sample: {"/shop/web": ["instances"]}
removed:
  description: Ids of the apps removed.
  returned: always
  type: list
  elements: str
deployment_ids:
  description: The deployments started.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import (
    MARATHON_MUTUALLY_EXCLUSIVE,
    MARATHON_REQUIRED_TOGETHER,
    marathon_argument_spec,
    normalize_app_id,
    parent_id,
    run_and_exit,
)
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_compare import (
    app_config,
    compare_app,
    prepare_definition,
    update_body,
)


def flatten_apps(group):
    """Every app under a GroupInfo, at any depth, by id."""
    apps = {}
    stack = [group or {}]
    while stack:
        node = stack.pop()
        for app in node.get("apps") or []:
            apps[app["id"]] = app
        stack.extend(node.get("groups") or [])
    return apps


def is_under(app_id, group_id):
    return group_id == "/" or app_id.startswith(group_id.rstrip("/") + "/")


class GroupRunner(object):
    def __init__(self, module, client, group_id):
        self.module = module
        self.client = client
        self.group_id = group_id
        self.deadline = time.time() + module.params["wait_timeout"]
        self.result = dict(changed=False, group={}, created=[], updated={}, removed=[], deployment_ids=[])
        self.before = {}
        self.after = {}

    def locked(self, call):
        response = self.client.retry_when_locked(call, self.deadline)
        if response.deployment_id:
            self.result["deployment_ids"].append(response.deployment_id)
        return response

    def wanted_apps(self):
        wanted = {}
        for index, definition in enumerate(self.module.params["apps"]):
            field = "apps[%d].id" % index
            if not definition.get("id"):
                self.module.fail_json(msg="%s: every app needs an id" % field)
            try:
                app_id = normalize_app_id(definition["id"], self.group_id)
            except ValueError as exc:
                self.module.fail_json(msg="%s: %s" % (field, exc))
            if not is_under(app_id, self.group_id):
                self.module.fail_json(msg="%s: %s is not inside the group %s" % (field, app_id, self.group_id))
            if app_id in wanted:
                self.module.fail_json(msg="%s: %s is listed twice" % (field, app_id))
            app, dropped = prepare_definition(definition, app_id)
            if dropped:
                self.module.warn("%s: ignoring read-only field(s) %s" % (field, ", ".join(dropped)))
            wanted[app_id] = app
        return wanted

    def present(self, group):
        p = self.module.params
        check = self.module.check_mode
        current_apps = flatten_apps(group)
        wanted_apps = self.wanted_apps()
        bodies = []
        for app_id, wanted in sorted(wanted_apps.items()):
            current = current_apps.get(app_id)
            if current is None:
                self.result["created"].append(app_id)
                bodies.append(wanted)
                self.before[app_id], self.after[app_id] = None, wanted
                continue
            changed, before, after = compare_app(wanted, current, p["replace"])
            if changed:
                self.result["updated"][app_id] = changed
                body = update_body(wanted, current, changed, p["replace"])
                body["id"] = app_id
                bodies.append(body)
                self.before[app_id], self.after[app_id] = before, after
        if p["remove_unlisted_apps"]:
            for app_id in sorted(current_apps):
                if app_id not in wanted_apps:
                    self.result["removed"].append(app_id)
                    self.before[app_id], self.after[app_id] = app_config(current_apps[app_id]), None
        deps_changed = False
        if p["dependencies"] is not None:
            try:
                wanted_deps = sorted(set(normalize_app_id(d, parent_id(self.group_id)) for d in p["dependencies"]))
            except ValueError as exc:
                self.module.fail_json(msg="dependencies: %s" % exc)
            current_deps = sorted(set((group or {}).get("dependencies") or []))
            if group is None or wanted_deps != current_deps:
                deps_changed = True
                self.before["dependencies"], self.after["dependencies"] = current_deps, wanted_deps
        changed = bool(bodies or self.result["removed"] or deps_changed or group is None)
        self.result["changed"] = changed
        if changed:
            self.result["diff"] = dict(before=self.before, after=self.after)
        if not changed or check:
            self.result["group"] = group or {"id": self.group_id}
            if changed or not p["wait"]:
                return
            self.wait_apps(sorted(wanted_apps), current_apps, settled=True)
            return
        if deps_changed or group is None:
            body = {"id": self.group_id}
            if p["dependencies"] is not None:
                body["dependencies"] = self.after.get("dependencies", [])
            self.locked(lambda: self.client.put_group(self.group_id, body, force=p["force"]))
        if bodies:
            self.locked(lambda: self.client.put_apps(bodies, force=p["force"], partial=not p["replace"]))
        for app_id in self.result["removed"]:
            self.locked(lambda app_id=app_id: self.client.delete_app(app_id, force=p["force"]))
        if p["wait"]:
            self.client.wait_for_deployments(self.result["deployment_ids"], self.deadline)
            self.wait_apps(sorted(wanted_apps), {}, settled=False)
        self.result["group"] = self.client.get_group(self.group_id) or {}

    def wait_apps(self, app_ids, known, settled):
        """Wait for each listed app's tasks. ``settled``: the group GET is fresh, so apps it shows ready need no
        further request."""
        for app_id in app_ids:
            app = known.get(app_id) if settled else None
            if app is not None and "tasksRunning" not in app:
                app = None  # the group listing carries no counts: ask the app
            self.client.wait_for_app(app_id, self.deadline, app)

    def absent(self, group):
        if group is None:
            return
        self.result["changed"] = True
        self.result["removed"] = sorted(flatten_apps(group))
        self.result["diff"] = dict(before=dict((k, app_config(v)) for k, v in flatten_apps(group).items()), after={})
        if self.module.check_mode:
            return
        response = self.locked(lambda: self.client.delete_group(self.group_id, force=self.module.params["force"]))
        if self.module.params["wait"] and response.deployment_id:
            self.client.wait_for_deployments([response.deployment_id], self.deadline)

    def run(self):
        group = self.client.get_group(self.group_id, embed=["group.groups", "group.apps", "group.apps.counts"])
        if self.module.params["state"] == "absent":
            self.absent(group)
        else:
            self.present(group)
        return self.result


def main():
    argument_spec = marathon_argument_spec()
    argument_spec.update(
        id=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        apps=dict(type="list", elements="dict", default=[]),
        dependencies=dict(type="list", elements="str"),
        remove_unlisted_apps=dict(type="bool", default=False),
        replace=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=MARATHON_REQUIRED_TOGETHER,
                           mutually_exclusive=MARATHON_MUTUALLY_EXCLUSIVE)
    raw = module.params["id"]
    group_id = "/" + "/".join(p for p in raw.split("/") if p)
    if group_id != "/":
        try:
            group_id = normalize_app_id(raw)
        except ValueError as exc:
            module.fail_json(msg="id: %s" % exc)
    run_and_exit(module, GroupRunner, group_id)


if __name__ == "__main__":
    main()
