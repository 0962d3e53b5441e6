#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: marathon_app_info
short_description: Read Marathon apps, their task counts and tasks
version_added: 0.1.0
description:
  - Returns one app, every app, or the apps whose id starts with a prefix or whose labels match a selector,
    with their task counts (C(tasksStaged), C(tasksRunning), C(tasksHealthy), C(tasksUnhealthy)), their running
    deployments and, on request, their tasks.
author:
  - shepherd.fleet developers (@shepherd-fleet)
extends_documentation_fragment:
  - shepherd.fleet.marathon
  - shepherd.fleet.marathon.attributes
attributes:
  check_mode:
    support: full
    details:
      - This module does not change anything.
  diff_mode:
    support: none
options:
  id:
    description:
      - One app, by id (normalised as Marathon does it). A missing app gives an empty RV(apps) list and
        RV(exists=false), not an error.
      - Mutually exclusive with O(id_prefix) and O(label).
    type: str
  id_prefix:
    description:
      - Only apps whose id starts with this, for example V(/prod) (a leading V(/) is added when missing).
    type: str
  label:
    description:
      - Marathon label selector, for example V(team==web), V(env in (prod,staging)) or V(canary).
    type: str
  tasks:
    description:
      - Include each app's tasks (C(embed=apps.tasks)).
    type: bool
    default: false
seealso:
  - module: shepherd.fleet.marathon_app
"""

EXAMPLES = r"""
- name: All apps under /prod with their tasks
  shepherd.fleet.marathon_app_info:
    url: http://master1:8080
    id_prefix: /prod
    tasks: true
  register: prod

- name: One app
  shepherd.fleet.marathon_app_info:
    url: http://master1:8080
    id: /prod/web
  register: web

- name: Fail when an app is not healthy
  ansible.builtin.assert:
    that: web.apps[0].tasksHealthy >= web.apps[0].instances

- name: The apps of one team
  shepherd.fleet.marathon_app_info:
    url: http://master1:8080
    label: team==web
"""

RETURN = r"""
apps:
  description: The matching apps as Marathon returns them (sorted by id), with counts and deployments.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "/prod/web", "instances": 3, "tasksRunning": 3, "tasksHealthy": 3, "deployments": []}]
count:
  description: Number of apps returned.
  returned: always
  type: int
  sample: 1
exists:
  description: With O(id), whether the app exists.
  returned: when O(id) is given
  type: bool
totals:
  description: Sums over the returned apps of C(instances), C(tasksStaged), C(tasksRunning), C(tasksHealthy) and
    C(tasksUnhealthy), plus C(deploying), the number of apps with a deployment running.
  returned: always
  type: dict
  sample: {"instances": 3, "tasksStaged": 0, "tasksRunning": 3, "tasksHealthy": 3, "tasksUnhealthy": 0, "deploying": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import (
    MARATHON_MUTUALLY_EXCLUSIVE,
    MARATHON_REQUIRED_TOGETHER,
    MarathonClient,
    MarathonError,
    marathon_argument_spec,
    normalize_app_id,
)

COUNTS = ("instances", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy")


def main():
    argument_spec = marathon_argument_spec()
    argument_spec.update(
        id=dict(type="str"),
        id_prefix=dict(type="str"),
        label=dict(type="str"),
        tasks=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=MARATHON_REQUIRED_TOGETHER,
                           mutually_exclusive=MARATHON_MUTUALLY_EXCLUSIVE + [("id", "id_prefix"), ("id", "label")])
    p = module.params
    result = dict(changed=False)
    try:
        client = MarathonClient.from_module(module)
        if p["id"]:
            try:
                app_id = normalize_app_id(p["id"])
            except ValueError as exc:
                module.fail_json(msg="id: %s" % exc)
            app = client.get_app(app_id)
            apps = [app] if app else []
            result["exists"] = app is not None
        else:
            prefix = None
            if p["id_prefix"]:
                prefix = "/" + p["id_prefix"].lstrip("/")
            apps = client.list_apps(id_filter=prefix, label=p["label"], embed="apps.tasks" if p["tasks"] else None)
            if prefix:
                # Marathon's id= filter is a case-insensitive substring match: keep real prefixes only.
                apps = [a for a in apps if a.get("id", "").startswith(prefix)]
    except MarathonError as err:
        module.fail_json(**err.fail_kwargs())
    if not p["tasks"]:
        for app in apps:
            app.pop("tasks", None)
    apps.sort(key=lambda a: a.get("id", ""))
    totals = dict((k, sum(a.get(k, 0) or 0 for a in apps)) for k in COUNTS)
    totals["deploying"] = sum(1 for a in apps if a.get("deployments"))
    result.update(apps=apps, count=len(apps), totals=totals)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
