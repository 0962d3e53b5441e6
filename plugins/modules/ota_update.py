#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: ota_update
short_description: Apply a firmware manifest to a device's program slots, roll back or recover
version_added: 0.1.0
description:
  - Push mode of shepherd.fleet's over-the-air updater; the same slot engine as the device agent C(ota-agent)
    that the role P(shepherd.fleet.ota_device#role) installs (pull mode). See C(docs/ota.md).
  - With O(state=applied), fetches and validates the manifest at O(manifest_url) (and its signature when trusted
    keys are given) before anything is written, downloads into a new slot the programs whose bytes are not
    already running (hard-links the others), checks sizes and MD5 (and SHA-256 when given), switches C(running)
    atomically, runs the manifest's health check and commits, or rolls back by itself when the check fails.
  - A manifest whose sequence is not higher than the running one is refused unless O(allow_downgrade=true);
    a manifest that was rolled back is not applied again unless O(retry_rejected=true).
  - O(state=recovered) finishes or undoes an interrupted operation (what the boot unit of the role runs);
    O(state=rolled_back) makes the backup set the running one.
author:
  - shepherd.fleet developers (@shepherd-fleet)
attributes:
  check_mode:
    description: Fetches and validates the manifest and tells whether it would be applied, writing nothing.
    support: full
  diff_mode:
    description: Shows the release, the sequence and every program's version before and after.
    support: full
options:
  root:
    description:
      - The device's OTA root directory, holding C(slots/), the links C(running), C(backup), C(update) and the
        journal.
    type: path
    default: /opt/ota
  state:
    description:
      - V(applied) brings the running set to O(manifest_url); V(recovered) finishes an interrupted operation;
        V(rolled_back) swaps the running and the backup sets (changes every time it runs).
    type: str
    choices: [applied, recovered, rolled_back]
    default: applied
  manifest_url:
    description:
      - URL of the manifest (V(http://), V(https://) or V(file://)); program URLs in it may be relative to it.
      - Required with O(state=applied).
    type: str
  allow_downgrade:
    description: Accept a manifest whose sequence is not higher than the running set's.
    type: bool
    default: false
  retry_rejected:
    description: Apply a manifest that failed its health check and was rolled back before.
    type: bool
    default: false
  signature_url:
    description: URL of the detached Ed25519 signature of the manifest (default O(manifest_url) plus C(.sig)).
    type: str
  trusted_keys:
    description:
      - Ed25519 public keys (PEM files on the device) that may sign manifests; several allow key rotation.
      - With O(trusted_keys) or O(trusted_keys_dir), an unsigned or badly signed manifest is refused before a
        byte is written.
    type: list
    elements: path
    default: []
  trusted_keys_dir:
    description: A directory of trusted C(*.pem) public keys on the device; it must hold at least one.
    type: path
  health_timeout:
    description: Seconds one health check may take (overrides the manifest's C(health.timeout)).
    type: float
  health_attempts:
    description: Failed health checks in a row before the new set is rolled back (overrides C(health.attempts)).
    type: int
  health_interval:
    description: Seconds between two health checks (overrides C(health.interval)).
    type: float
  timeout:
    description: Network timeout in seconds.
    type: float
    default: 30
notes:
  - Needs Python 3.8 or later on the device and the C(openssl) command for signed manifests.
seealso:
  - name: The OTA design and manifest format
    description: docs/ota.md in the collection.
    link: https://github.com/shepherd-fleet/shepherd.fleet/blob/main/docs/ota.md
"""

EXAMPLES = r"""
- name: Bring the device to release 2.4.0
  shepherd.fleet.ota_update:
    manifest_url: http://firmware.lab/releases/2.4.0/manifest.json
  register: ota

- name: What would change (check mode, with program versions in the diff)
  shepherd.fleet.ota_update:
    manifest_url: http://firmware.lab/releases/2.4.0/manifest.json
  check_mode: true
  diff: true

- name: Signed manifests only, two keys during a rotation
  shepherd.fleet.ota_update:
    manifest_url: https://firmware.lab/releases/2.5.0/manifest.json
    trusted_keys:
      - /etc/ota-agent/keys/2025.pem
      - /etc/ota-agent/keys/2026.pem

- name: Go back to the previous set
  shepherd.fleet.ota_update:
    state: rolled_back
"""

RETURN = r"""
result:
  description:
    - V(updated), V(current) (nothing to do), V(would_update) (check mode), V(recovered) or V(rolled_back).
  returned: success
  type: str
  sample: updated
plan:
  description: With O(state=applied), what each program needs (C(keep), C(copy) or C(download)) and the bytes to download.
  returned: when O(state=applied)
  type: dict
  sample: {"current": false, "download_bytes": 1048576, "removed": [],
           "programs": [{"name": "app", "action": "download", "version": "2.4.0", "old_version": "2.3.0"}]}
status:
  description:
    - The device after the operation, as C(ota-agent status --json) gives it, C(running) and C(backup) each
      with C(release), C(sequence), C(slot) and C(programs) (C(name), C(version), C(size), C(md5), C(sha256)),
      C(last_result), C(pending) and C(agent).
  returned: always
  type: dict
  sample: {"running": {"release": "2.4.0", "sequence": 42, "programs": [{"name": "app", "version": "2.4.0"}]},
           "backup": {"release": "2.3.0", "sequence": 41}, "last_result": {"result": "updated", "error": null}}
rolled_back:
  description: On failure, whether the new set failed its health check and the previous one runs again.
  returned: failure
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_engine import Engine
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_errors import OtaError


def describe(info):
    """A set as the diff shows it: release, sequence, then one line per program."""
    if not info:
        return "(no running set)\n"
    lines = ["release: %s" % info["release"], "sequence: %s" % info["sequence"], "programs:"]
    lines += ["  %s: %s (md5 %s)" % (p["name"], p["version"], p["md5"]) for p in info["programs"]]
    return "\n".join(lines) + "\n"


def manifest_info(manifest):
    return {"release": manifest["release"], "sequence": manifest["sequence"],
            "programs": [dict(name=p["name"], version=p["version"], md5=p["md5"]) for p in manifest["programs"]]}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/opt/ota"),
            state=dict(type="str", default="applied", choices=["applied", "recovered", "rolled_back"]),
            manifest_url=dict(type="str"),
            allow_downgrade=dict(type="bool", default=False),
            retry_rejected=dict(type="bool", default=False),
            signature_url=dict(type="str"),
            trusted_keys=dict(type="list", elements="path", default=[], no_log=False),  # public keys
            trusted_keys_dir=dict(type="path"),
            health_timeout=dict(type="float"),
            health_attempts=dict(type="int"),
            health_interval=dict(type="float"),
            timeout=dict(type="float", default=30),
        ),
        required_if=[("state", "applied", ["manifest_url"])],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False)
    try:
        engine = Engine(p["root"], timeout=p["timeout"], trusted_keys=p["trusted_keys"], keys_dir=p["trusted_keys_dir"],
                        health_timeout=p["health_timeout"], health_attempts=p["health_attempts"],
                        health_interval=p["health_interval"], log=module.debug)
        before = engine.status()
        if p["state"] == "applied":
            manifest = engine.load_manifest(p["manifest_url"], p["signature_url"])[0]
            plan = engine.plan(manifest, p["allow_downgrade"], p["retry_rejected"])
            result["plan"] = plan
            if module.check_mode:
                result.update(changed=not plan["current"], result="current" if plan["current"] else "would_update")
                after = before["running"] if plan["current"] else manifest_info(manifest)
            else:
                out = engine.apply(p["manifest_url"], p["allow_downgrade"], p["retry_rejected"], p["signature_url"])
                result.update(changed=out["changed"], result=out["result"])
                after = out["after"]
        elif p["state"] == "recovered":
            pending = before["pending"] is not None
            if module.check_mode:
                result.update(changed=pending, result="recovered")
            else:
                out = engine.recover()
                result.update(changed=out["changed"], result=out["result"], action=out["action"])
            after = engine.status()["running"] if not module.check_mode else before["running"]
        else:
            if not before["backup"]:
                raise OtaError("rollback: there is no complete backup set to roll back to")
            if not module.check_mode:
                engine.rollback()
            result.update(changed=True, result="rolled_back")
            after = before["backup"]
        result["status"] = before if module.check_mode else engine.status()
        if module._diff:
            result["diff"] = dict(before=describe(before["running"]), after=describe(after),
                                  before_header="%s running" % p["root"], after_header="%s running" % p["root"])
    except OtaError as exc:
        status = None
        try:
            status = Engine(p["root"]).status()
        except (OtaError, OSError):
            pass
        module.fail_json(msg=str(exc), rolled_back=exc.rolled_back, status=status,
                         changed=exc.rolled_back)
    except OSError as exc:
        module.fail_json(msg="%s: %s" % (p["root"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
