#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: marathon_deployment
short_description: List, wait for, cancel or roll back Marathon deployments
version_added: 0.1.0
description:
  - Marathon lists only running deployments; a finished one disappears and a stuck one stays forever.
  - V(list) returns the running deployments, optionally only one or those of one app.
  - V(wait) waits until the selected deployments have finished (left C(/v2/deployments)).
  - V(cancel) stops a deployment where it is, without rollback (C(DELETE ?force=true)); the app may be left
    half-upgraded.
  - V(rollback) cancels a deployment and starts the deployment that reverts its changes (C(DELETE)), and waits for
    it when O(wait=true).
  - Cancelling or rolling back a deployment that is no longer running changes nothing.
author:
  - shepherd.fleet developers (@shepherd-fleet)
extends_documentation_fragment:
  - shepherd.fleet.marathon
  - shepherd.fleet.marathon.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  action:
    description: What to do.
    type: str
    choices: [list, wait, cancel, rollback]
    default: list
  id:
    description:
      - A deployment id. Required for V(cancel) and V(rollback).
    type: str
  app_id:
    description:
      - Only deployments that affect this app (for V(list) and V(wait)).
    type: str
  wait:
    description:
      - For V(rollback), wait for the rollback deployment to finish.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for V(wait) and for the rollback.
    type: int
    default: 300
seealso:
  - module: shepherd.fleet.marathon_app
"""

EXAMPLES = r"""
- name: What is Marathon deploying for /prod/web?
  shepherd.fleet.marathon_deployment:
    url: http://master1:8080
    app_id: /prod/web
  register: deploying

- name: Wait for every running deployment to finish
  shepherd.fleet.marathon_deployment:
    url: http://master1:8080
    action: wait
    wait_timeout: 600

- name: Roll back a stuck deployment
  shepherd.fleet.marathon_deployment:
    url: http://master1:8080
    action: rollback
    id: "{{ deploying.deployments[0].id }}"
  when: deploying.deployments | length > 0
"""

RETURN = r"""
deployments:
  description: The running deployments that match (before a cancel or rollback).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "97c136bf-5a28-4821-9d94-480d9fbb01c8", "affectedApps": ["/foo"], "currentStep": 1, "totalSteps": 1}]
count:
  description: Number of deployments in RV(deployments).
  returned: always
  type: int
rollback_deployment_id:
  description: The deployment that reverts the rolled back one.
  returned: when O(action=rollback) changed something outside check mode
  type: str
waited_for:
  description: The ids of the deployments waited for.
  returned: when O(action=wait)
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.shepherd.fleet.plugins.module_utils.marathon_client import (
    MARATHON_MUTUALLY_EXCLUSIVE,
    MARATHON_REQUIRED_TOGETHER,
    MarathonClient,
    MarathonError,
    marathon_argument_spec,
    normalize_app_id,
)


def main():
    argument_spec = marathon_argument_spec()
    argument_spec.update(
        action=dict(type="str", default="list", choices=["list", "wait", "cancel", "rollback"]),
        id=dict(type="str"),
        app_id=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=MARATHON_REQUIRED_TOGETHER,
                           mutually_exclusive=MARATHON_MUTUALLY_EXCLUSIVE,
                           required_if=[("action", "cancel", ["id"]), ("action", "rollback", ["id"])])
    p = module.params
    deadline = time.time() + p["wait_timeout"]
    app_id = None
    if p["app_id"]:
        try:
            app_id = normalize_app_id(p["app_id"])
        except ValueError as exc:
            module.fail_json(msg="app_id: %s" % exc)
    result = dict(changed=False)
    try:
        client = MarathonClient.from_module(module)
        deployments = client.list_deployments()
        if p["id"]:
            deployments = [d for d in deployments if d.get("id") == p["id"]]
        if app_id:
            deployments = [d for d in deployments if app_id in (d.get("affectedApps") or [])]
        result.update(deployments=deployments, count=len(deployments))
        if p["action"] == "wait":
            ids = [d["id"] for d in deployments]
            result["waited_for"] = ids
            if not module.check_mode:
                client.wait_for_deployments(ids, deadline)
        elif p["action"] in ("cancel", "rollback") and deployments:
            result["changed"] = True
            if not module.check_mode:
                try:
                    response = client.delete_deployment(p["id"], force=p["action"] == "cancel")
                except MarathonError as err:
                    if err.status != 404:
                        raise
                    # it finished between the listing and the DELETE: nothing left to cancel
                    result["changed"] = False
                    module.exit_json(**result)
                if p["action"] == "rollback":
                    rollback_id = response.deployment_id
                    result["rollback_deployment_id"] = rollback_id
                    if p["wait"] and rollback_id:
                        client.wait_for_deployments([rollback_id], deadline)
    except MarathonError as err:
        failed = dict(result)
        failed.update(err.fail_kwargs())
        module.fail_json(**failed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
