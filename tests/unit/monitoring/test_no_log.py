"""No task of the cadvisor and metrics roles can print a password, even with -v.

A task prints its module arguments (on failure or with -v) and, in a loop, every item whole. So a task that
puts a password into its arguments must be no_log, unless the only place is uri's url_password (the uri module
hides it itself); and a loop that is not no_log must not go over a list that holds passwords.
"""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = ("cadvisor", "metrics")
# Variables that are or that hold passwords (not __metrics_users_without_passwords).
SECRETS = re.compile(r"_password\b|\bmetrics_influxdb_users\b")
# Arguments their module never prints.
HIDDEN_ARGUMENTS = {"url_password"}
# Keywords of a task that are not module arguments, or that only the controller sees.
KEYWORDS = {"name", "when", "register", "notify", "loop_control", "vars", "changed_when", "failed_when", "until",
            "retries", "delay", "check_mode", "diff", "tags", "no_log", "module_defaults", "become", "listen"}
# Modules whose arguments are expressions or messages, not values (an assert prints its condition as written).
EXPRESSION_MODULES = {"ansible.builtin.assert"}


def tasks(items, where):
    for task in items or []:
        yield where, task
        for section in ("block", "rescue", "always"):
            yield from tasks(task.get(section), where)


def all_tasks():
    found = []
    for role in ROLES:
        for path in sorted((ROOT / "roles" / role).glob("*/*.yml")):
            if path.parent.name in ("tasks", "handlers"):
                found.extend(tasks(yaml.safe_load(path.read_text(encoding="utf-8")), "%s/%s" % (role, path.name)))
    return found


def arguments(task):
    """The module's arguments as printed, minus those the module hides."""
    module = next(key for key in task if key not in KEYWORDS | {"loop", "block", "rescue", "always"})
    if module in EXPRESSION_MODULES:
        return {}
    args = task[module]
    if isinstance(args, dict):
        return {key: value for key, value in args.items() if key not in HIDDEN_ARGUMENTS}
    return {"_raw": args}


def mentions_secret(value):
    return bool(SECRETS.search(str(value)))


def is_block(task):
    return any(section in task for section in ("block", "rescue", "always"))


@pytest.mark.parametrize("where,task", [item for item in all_tasks() if not is_block(item[1])],
                         ids=lambda value: value.get("name", "") if isinstance(value, dict) else value)
def test_task_does_not_print_a_password(where, task):
    if task.get("no_log") is True:
        return
    assert not mentions_secret(arguments(task)), "%s: %r puts a password into its arguments: make it no_log" % (where, task["name"])
    assert not mentions_secret(task.get("loop", "")), "%s: %r loops over passwords: loop without them or make it no_log" % (where, task["name"])


def test_the_check_catches_a_leak():
    leaky = {"name": "x", "ansible.builtin.uri": {"body": {"q": "CREATE USER u WITH PASSWORD '{{ item.password }}'"}},
             "loop": "{{ metrics_influxdb_users }}"}
    assert not mentions_secret(arguments({"name": "y", "ansible.builtin.uri": {"url_password": "{{ x_password }}"}}))
    assert mentions_secret(leaky["loop"])
    assert not mentions_secret("{{ __metrics_users_without_passwords }}")
    with pytest.raises(AssertionError):
        test_task_does_not_print_a_password("test", leaky)
    test_task_does_not_print_a_password("test", dict(leaky, no_log=True))
