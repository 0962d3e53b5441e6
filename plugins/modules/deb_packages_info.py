#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: deb_packages_info
short_description: Tell which of a list of Debian packages are missing, with one dpkg query
version_added: 0.1.0
description:
  - Asks dpkg which of the packages of O(names) are installed, and at which version, and returns the ones that are
    not (or not at the wanted version) in RV(missing), spelt as given, so that they can go straight to
    M(ansible.builtin.apt).
  - The roles run it before their M(ansible.builtin.apt) task and skip that task when nothing is missing. A
    M(ansible.builtin.apt) run (or M(ansible.builtin.package_facts)) loads apt's whole package cache, about a
    second on every host even when everything is installed; this query takes a few milliseconds. It reads dpkg's
    database afresh on every run, so a package removed by hand is seen as missing at once.
  - A package counts as installed only when dpkg says so (status C(installed)); one that is only unpacked,
    half-configured or removed with its configuration kept is missing.
author:
  - shepherd.fleet developers (@shepherd-fleet)
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
options:
  names:
    description:
      - The packages, as M(ansible.builtin.apt) takes them - V(name), V(name:arch), or V(name=version), where the
        version may hold the wildcards C(*) and C(?) (V(consul=1.8.7*)).
    type: list
    elements: str
    required: true
notes:
  - Needs dpkg-query, so Debian and its derivatives only.
seealso:
  - module: ansible.builtin.apt
  - module: ansible.builtin.package_facts
"""

EXAMPLES = r"""
- name: Look for the packages the engine needs
  shepherd.fleet.deb_packages_info:
    names: [docker.io, python3-requests]
  register: engine_packages

- name: Install the engine (only when something is missing)
  ansible.builtin.apt:
    name: "{{ engine_packages.missing }}"
    state: present
  when: engine_packages.missing | length > 0

- name: Look for a pinned version
  shepherd.fleet.deb_packages_info:
    names: ["aventer-mesos=1.11.0-*"]
  register: mesos_package
"""

RETURN = r"""
missing:
  description: The entries of O(names) that are not installed, or not at a version the entry allows, in their order.
  returned: always
  type: list
  elements: str
  sample: ["consul=1.8.7*"]
installed:
  description: The installed version of every package of O(names) that is installed (at any version).
  returned: always
  type: dict
  sample: {docker.io: "20.10.24+dfsg1-1+deb12u1", consul: "1.8.7+dfsg1-3"}
"""

import fnmatch
import re

from ansible.module_utils.basic import AnsibleModule

# Debian policy: lower-case letters, digits, + - . ; at least two characters, starting alphanumeric.
SPEC = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.-]+)(?::(?P<arch>[a-z0-9-]+))?(?:=(?P<version>[^\s=]+))?$")
QUERY_FORMAT = "${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n"


def parse_spec(spec):
    """(name, arch or None, version pattern or None) of an apt-style spec; ValueError when it is not one."""
    match = SPEC.match(spec)
    if not match:
        raise ValueError(spec)
    return match.group("name"), match.group("arch"), match.group("version")


def parse_query(output):
    """dpkg-query's lines -> {name: [(arch, version)]} of the packages dpkg has as installed."""
    installed = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and fields[3] == "installed":
            installed.setdefault(fields[0], []).append((fields[1], fields[2]))
    return installed


def satisfies(rows, arch, version):
    """Whether one of a package's installed (arch, version) rows has the wanted architecture and version."""
    for row_arch, row_version in rows:
        if arch and row_arch not in (arch, "all"):
            continue
        if version and not fnmatch.fnmatchcase(row_version, version):
            continue
        return True
    return False


def missing_specs(specs, installed):
    """The specs (parsed: (spec, name, arch, version)) that the installed rows do not satisfy, in order."""
    return [spec for spec, name, arch, version in specs if not satisfies(installed.get(name, []), arch, version)]


def main():
    module = AnsibleModule(
        argument_spec=dict(names=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    specs = []
    bad = []
    for index, spec in enumerate(module.params["names"]):
        try:
            specs.append((spec,) + parse_spec(spec.strip()))
        except ValueError:
            bad.append("names[%d] (%r)" % (index, spec))
    if bad:
        module.fail_json(msg="not a package as apt takes it (name, name:arch or name=version): %s" % ", ".join(bad))
    if not specs:
        module.exit_json(changed=False, missing=[], installed={})

    names = sorted(set(name for dummy, name, dummy_arch, dummy_version in specs))
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    # Exit code 1 only says that some name is unknown to dpkg: that package is missing, not an error.
    rc, out, err = module.run_command([dpkg_query, "--show", "--showformat", QUERY_FORMAT, "--"] + names,
                                      environ_update={"LC_ALL": "C"})
    if rc not in (0, 1) or (rc == 1 and not all("no packages found" in line for line in err.splitlines() if line)):
        module.fail_json(msg="dpkg-query failed (exit code %d): %s" % (rc, err.strip()), rc=rc, stderr=err)

    rows = parse_query(out)
    installed = dict((name, rows[name][0][1]) for name in names if name in rows)
    module.exit_json(changed=False, missing=missing_specs(specs, rows), installed=installed)


if __name__ == "__main__":
    main()
