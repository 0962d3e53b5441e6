#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: marathon_app
short_description: Create, update, scale, restart and remove Marathon apps
version_added: 0.1.0
description:
  - Manages one app of a Marathon cluster through Marathon's REST API v2 (Marathon 1.4 to 1.10).
  - Compares first. The module reads the app (one C(GET)) and sends a C(PUT) only when the wanted definition differs
    from what Marathon has. Fields Marathon fills in by default, service ports it assigned for C(port=0), and the
    order of set-like lists (C(constraints), C(healthChecks), C(dependencies), C(acceptedResourceRoles)) are not
    differences. An unchanged app costs exactly one request and reports C(changed=false).
  - Never sends C(version), C(versionInfo) or other read-only fields back (a C(version) in a C(PUT) means rollback
    to Marathon).
  - Waits for the deployment a change starts, then for the tasks to run (and be healthy when the app has health
    checks).
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
    description:
      - The app id, for example V(/prod/web) or V(web). Normalised as Marathon does it
        (V(web), V(/web/) and V(//web) are all V(/web)).
      - Defaults to C(definition.id). When both are given they must name the same app.
    type: str
  definition:
    description:
      - The app as Marathon's app JSON, written as YAML (C(cmd) or C(args) or C(container), C(cpus), C(mem),
        C(env), C(labels), C(healthChecks), C(portDefinitions), ...).
      - Only the fields given here are managed; the others keep their current value, unless O(replace=true).
      - Read-only fields (C(version), C(versionInfo), C(tasks*), C(deployments), ...) are ignored with a warning.
    type: dict
    default: {}
  instances:
    description:
      - Number of instances; a shortcut that overrides C(definition.instances). Changing only this scales the app
        without restarting its tasks.
    type: int
  state:
    description:
      - V(present) creates or updates the app.
      - V(absent) removes it (its tasks are killed by a deployment, which is waited for when O(wait=true)).
      - V(restarted) applies O(definition) like V(present), then does a rolling restart, unless the update has
        already replaced every task (a configuration change). Always reports a change.
    type: str
    choices: [present, absent, restarted]
    default: present
  replace:
    description:
      - When V(true), O(definition) is the complete app; fields left out of it are reset to Marathon's defaults
        (C(PUT) with C(partialUpdate=false)). That includes C(instances) (back to 1) unless the definition or
        O(instances) sets it. Diff mode shows every field that would be reset.
      - When V(false) (the default), fields left out keep their current value (C(partialUpdate=true)).
    type: bool
    default: false
  force:
    description:
      - Send C(force=true). Marathon then cancels any deployment that holds the app and starts the new one, which can
        leave the app half-upgraded.
      - When V(false) and the app is locked by a deployment (409), the module waits for that deployment (at most
        O(wait_timeout) seconds), then tries again; if the lock remains it fails with Marathon's message.
    type: bool
    default: false
  wait:
    description:
      - Wait until the deployment started by the change has left C(/v2/deployments), then until the app has
        C(tasksRunning >= instances) (and C(tasksHealthy >= instances) when it has health checks).
      - Also waits when an unchanged app still has a deployment running or too few tasks.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait in total for locks, deployments and tasks. A stuck deployment stays in Marathon forever;
        the module fails after this time and names it.
    type: int
    default: 300
notes:
  - Uses only C(open_url); no Python library is needed on the host that runs the module.
seealso:
  - module: shepherd.fleet.marathon_app_info
  - module: shepherd.fleet.marathon_group
  - module: shepherd.fleet.marathon_deployment
"""

EXAMPLES = r"""
- name: Run the web app with three instances
  shepherd.fleet.marathon_app:
    url:
      - http://master1:8080
      - http://master2:8080
    id: /prod/web
    definition:
      cmd: python3 -m http.server $PORT0
      cpus: 0.25
      mem: 128
      instances: 3
      labels:
        team: web
      healthChecks:
        - protocol: HTTP
          path: /
          portIndex: 0
      upgradeStrategy:
        minimumHealthCapacity: 0.5
        maximumOverCapacity: 0.5

- name: Scale it, without touching the rest of the definition
  shepherd.fleet.marathon_app:
    url: http://master1:8080
    id: /prod/web
    instances: 5

- name: Set the connection options once for every Marathon module
  module_defaults:
    group/shepherd.fleet.marathon:
      url: https://cluster.example.com/service/marathon
      token: "{{ dcos_token }}"
  block:
    - name: Restart the worker (rolling, respecting its upgradeStrategy)
      shepherd.fleet.marathon_app:
        id: /prod/worker
        state: restarted

    - name: Remove an app and wait for its tasks to be killed
      shepherd.fleet.marathon_app:
        id: /prod/old
        state: absent

- name: Own the whole definition; fields not listed go back to Marathon's defaults
  shepherd.fleet.marathon_app:
    url: http://master1:8080
    replace: true
    definition:
      id: /tools/cron
      cmd: /usr/local/bin/cron-runner
      mem: 64
"""

RETURN = r"""
app:
  description:
    - The app as Marathon returns it after the change (with counts and tasks), or as predicted in check mode.
    - Empty when O(state=absent).
  returned: always
  type: dict
  sample: {"id": "/prod/web", "instances": 3, "cpus": 0.25, "mem": 128.0, "tasksRunning": 3, "tasksHealthy": 3}
deployment_id:
  description: Id of the deployment the change started (and the restart, for O(state=restarted)); null without change.
  returned: always
  type: str
  sample: 5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43
deployment_ids:
  description: All deployments the module started, in order.
  returned: always
  type: list
  elements: str
changed_fields:
  description: The top-level fields of the definition that differed from Marathon's app (all of them on creation).
  returned: always
  type: list
  elements: str
  sample: [instances, env]
id:
  description: The normalised app id.
  returned: always
  type: str
  sample: /prod/web
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import (
    MARATHON_MUTUALLY_EXCLUSIVE,
    MARATHON_REQUIRED_TOGETHER,
    marathon_argument_spec,
    normalize_app_id,
    run_and_exit,
)
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_compare import (
    app_config,
    compare_app,
    predict_app,
    prepare_definition,
    update_body,
)


def resolve_id(module):
    definition = module.params["definition"] or {}
    raw_id = module.params["id"]
    try:
        app_id = normalize_app_id(raw_id) if raw_id else None
        def_id = normalize_app_id(definition["id"]) if definition.get("id") else None
    except ValueError as exc:
        module.fail_json(msg="id: %s" % exc)
    if app_id and def_id and app_id != def_id:
        module.fail_json(msg="id: %s and definition.id %s name different apps" % (app_id, def_id))
    if not (app_id or def_id):
        module.fail_json(msg="id: give the app id as id or as definition.id")
    return app_id or def_id


class AppRunner(object):
    def __init__(self, module, client, app_id):
        self.module = module
        self.client = client
        self.app_id = app_id
        p = module.params
        self.force = p["force"]
        self.wait = p["wait"]
        self.deadline = time.time() + p["wait_timeout"]
        self.result = dict(changed=False, id=app_id, app={}, deployment_id=None, deployment_ids=[],
                           changed_fields=[])

    def started(self, response):
        dep_id = response.deployment_id
        if dep_id:
            self.result["deployment_ids"].append(dep_id)
            self.result["deployment_id"] = dep_id
        return dep_id

    def locked_call(self, call):
        return self.client.retry_when_locked(call, self.deadline)

    def settle(self, dep_id, app=None):
        """Wait for the deployment, then for the tasks; return the app as Marathon reports it."""
        if self.wait:
            if dep_id:
                self.client.wait_for_deployments([dep_id], self.deadline)
                app = None
            return self.client.wait_for_app(self.app_id, self.deadline, app)
        return app if app is not None else (self.client.get_app(self.app_id) or {})

    def present(self, current, restart=False):
        p = self.module.params
        wanted, dropped = prepare_definition(p["definition"], self.app_id, p["instances"])
        if dropped:
            self.module.warn("definition: ignoring read-only field(s) %s; Marathon sets them itself"
                             % ", ".join(dropped))
        if current is None:
            return self.create(wanted, restart)
        changed, before, after = compare_app(wanted, current, p["replace"])
        self.result["changed_fields"] = changed
        if changed:
            self.result["changed"] = True
            self.result["diff"] = dict(before=before, after=after)
        if self.module.check_mode:
            self.result["app"] = predict_app(wanted, current, changed, p["replace"])
            self.result["changed"] = bool(changed) or restart
            return
        dep_id = None
        if changed:
            body = update_body(wanted, current, changed, p["replace"])
            response = self.locked_call(lambda: self.client.put_app(self.app_id, body, force=self.force,
                                                                    partial=not p["replace"]))
            dep_id = self.started(response)
        if restart and (not changed or changed == ["instances"]):
            if dep_id and self.wait:
                self.client.wait_for_deployments([dep_id], self.deadline)
            response = self.locked_call(lambda: self.client.restart_app(self.app_id, force=self.force))
            dep_id = self.started(response)
            self.result["changed"] = True
        self.result["app"] = self.settle(dep_id, None if dep_id else current)

    def create(self, wanted, restart):
        self.result["changed"] = True
        self.result["changed_fields"] = sorted(k for k in wanted if k != "id")
        self.result["diff"] = dict(before={}, after=wanted)
        if self.module.check_mode:
            self.result["app"] = predict_app(wanted, None, [], False)
            return
        # PUT creates a missing app (201) and, unlike POST, is safe to retry.
        response = self.locked_call(lambda: self.client.put_app(self.app_id, wanted, force=self.force,
                                                                partial=False))
        self.result["app"] = self.settle(self.started(response))

    def absent(self, current):
        if current is None:
            return
        self.result["changed"] = True
        self.result["diff"] = dict(before=app_config(current), after={})
        if self.module.check_mode:
            return
        # Marathon's DELETE defaults to force=true; send our force (default false) so a deployment is not cancelled.
        response = self.locked_call(lambda: self.client.delete_app(self.app_id, force=self.force))
        dep_id = self.started(response)
        if self.wait and dep_id:
            self.client.wait_for_deployments([dep_id], self.deadline)

    def run(self):
        state = self.module.params["state"]
        current = self.client.get_app(self.app_id)
        if state == "absent":
            self.absent(current)
        elif state == "restarted" and current is None and not self.module.params["definition"]:
            self.module.fail_json(msg="App '%s' does not exist and no definition was given to create it"
                                  % self.app_id, **self.result)
        else:
            self.present(current, restart=state == "restarted")
        return self.result


def main():
    argument_spec = marathon_argument_spec()
    argument_spec.update(
        id=dict(type="str"),
        definition=dict(type="dict", default={}),
        instances=dict(type="int"),
        state=dict(type="str", default="present", choices=["present", "absent", "restarted"]),
        replace=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=MARATHON_REQUIRED_TOGETHER,
                           mutually_exclusive=MARATHON_MUTUALLY_EXCLUSIVE)
    if module.params["instances"] is not None and module.params["instances"] < 0:
        module.fail_json(msg="instances: must be 0 or more, got %d" % module.params["instances"])
    app_id = resolve_id(module)
    run_and_exit(module, AppRunner, app_id)


if __name__ == "__main__":
    main()
