#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: directory_files
short_description: Keep a set of small files in one directory, in one module run
version_added: 0.1.0
description:
  - Writes every file of O(files) into the directory O(path), only where its content differs, each atomically,
    and gives them the same owner, group and mode. Optionally removes the directory's files that O(files) no
    longer lists (O(remove_unlisted)).
  - One module run for the whole set, where a loop of M(ansible.builtin.copy) costs two per file and a
    M(ansible.builtin.find) plus a loop of M(ansible.builtin.file) removes the rest. The roles use it for
    Mesos' flag files, Consul's service definitions and the OTA agent's engine.
  - Content is text (UTF-8). Render templates on the controller with P(ansible.builtin.template#lookup).
  - Contents are module arguments, so when they hold secrets set C(no_log) on the task.
author:
  - shepherd.fleet developers (@shepherd-fleet)
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    description: Reports what would be written and removed, changing nothing.
    support: full
  diff_mode:
    description: One diff per file written or removed, and per file whose owner, group or mode would change.
    support: full
options:
  path:
    description: The directory. It must exist (in check mode, a missing one reports every file as to be written).
    type: path
    required: true
  files:
    description:
      - File name (no C(/)) to content. A file is rewritten only when its content differs.
    type: dict
    required: true
  remove_unlisted:
    description:
      - Shell-style patterns (C(*.json), C(*)); files in O(path) that match one and are not in O(files) are removed.
        Directories are never removed. V([]) removes nothing.
    type: list
    elements: str
    default: []
notes:
  - O(mode), O(owner) and O(group) apply to every file of O(files), not to the directory.
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the Mesos master's flags, one file per flag, and remove flags no longer set
  shepherd.fleet.directory_files:
    path: /etc/mesos-master
    files:
      quorum: "2\n"
      work_dir: "/var/lib/mesos\n"
      "?hostname_lookup": ""
    remove_unlisted: ["*"]
    owner: root
    group: root
    mode: "0644"

- name: Consul service definitions (they carry the agent token)
  shepherd.fleet.directory_files:
    path: /etc/consul.d
    files: "{{ services | items2dict(key_name='file', value_name='json') }}"
    remove_unlisted: ["service-*.json"]
    owner: consul
    group: consul
    mode: "0600"
  no_log: true
"""

RETURN = r"""
written:
  description: Names of the files created or rewritten (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [quorum]
removed:
  description: Names of the files removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [old_flag]
"""

import fnmatch
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text


def bad_names(names):
    """The names (quoted) that are not plain file names."""
    bad = []
    for name in names:
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            bad.append(repr(name))
    return bad


def read_file(path):
    """The file's bytes, or None when there is no such file."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def plan(directory, files, remove_unlisted):
    """(to_write, to_remove): name -> (old bytes or None, new bytes), and the names of unlisted files to remove."""
    to_write = {}
    for name, content in files.items():
        target = os.path.join(directory, name)
        if os.path.isdir(target):
            raise ValueError("files: %s is a directory in %s" % (name, directory))
        new = to_bytes(content, errors="surrogate_or_strict")
        old = read_file(target)
        if old != new:
            to_write[name] = (old, new)
    to_remove = []
    if remove_unlisted:
        for name in sorted(os.listdir(directory)):
            if name in files or os.path.isdir(os.path.join(directory, name)):
                continue
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in remove_unlisted):
                to_remove.append(name)
    return to_write, to_remove


def write_atomically(module, directory, name, content):
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
    except Exception:
        os.unlink(temp)
        raise
    module.atomic_move(temp, os.path.join(directory, name))


def text_diff(directory, name, old, new):
    """One file's diff; None for old or new means the file is absent on that side."""
    path = os.path.join(directory, name)
    return {
        "before_header": path if old is not None else "%s (absent)" % path,
        "after_header": path if new is not None else "%s (absent)" % path,
        "before": to_text(old or b"", errors="surrogate_or_replace"),
        "after": to_text(new or b"", errors="surrogate_or_replace"),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="dict", required=True),
            remove_unlisted=dict(type="list", elements="str", default=[]),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    directory = module.params["path"]
    bad = bad_names(module.params["files"])
    if bad:
        module.fail_json(msg="files: not a plain file name: %s" % ", ".join(sorted(bad)))
    files = {name: "" if content is None else to_text(content) for name, content in module.params["files"].items()}
    if not os.path.isdir(directory):
        if module.check_mode and not os.path.lexists(directory):
            # In check mode an earlier task (a package, a file task) may not have created it yet.
            module.exit_json(changed=True, written=sorted(files), removed=[],
                             diff=[text_diff(directory, name, None, to_bytes(files[name])) for name in sorted(files)])
        module.fail_json(msg="path: %s is not a directory" % directory)
    try:
        to_write, to_remove = plan(directory, files, module.params["remove_unlisted"])
    except ValueError as error:
        module.fail_json(msg=str(error))

    diffs = [text_diff(directory, name, old, new) for name, (old, new) in sorted(to_write.items())]
    diffs += [text_diff(directory, name, read_file(os.path.join(directory, name)), None) for name in to_remove]
    changed = bool(to_write or to_remove)
    if not module.check_mode:
        for name, (dummy, new) in sorted(to_write.items()):
            write_atomically(module, directory, name, new)
        for name in to_remove:
            os.unlink(os.path.join(directory, name))

    # Owner, group and mode of every listed file (in check mode, of those that exist already).
    for name in sorted(files):
        target = os.path.join(directory, name)
        if module.check_mode and not os.path.exists(target):
            continue
        attribute_diff = {"before": {"path": target}, "after": {"path": target}}
        file_args = module.load_file_common_arguments(module.params, path=target)
        if module.set_fs_attributes_if_different(file_args, False, diff=attribute_diff):
            changed = True
            if len(attribute_diff["before"]) > 1:
                diffs.append(attribute_diff)

    module.exit_json(changed=changed, written=sorted(to_write), removed=to_remove, diff=diffs)


if __name__ == "__main__":
    main()
