"""How `shepherd.run` turns its arguments into an ansible-runner call, checked before anything runs."""

from pathlib import Path

import pytest

from shepherd.runner import (
    InventoryNotFound,
    PlaybookNotFound,
    build_cmdline,
    find_ansible_cfg,
    join_tags,
    resolve_inventories,
    resolve_playbook,
    run_environment,
)


def test_playbook_files_become_absolute_and_collection_names_stay(tmp_path, monkeypatch):
    (tmp_path / "site.yml").write_text("[]\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_playbook("site.yml") == str(tmp_path / "site.yml")
    assert resolve_playbook("shepherd.fleet.site") == "shepherd.fleet.site"
    assert resolve_playbook("shepherd.fleet.sub.dir_play") == "shepherd.fleet.sub.dir_play"


@pytest.mark.parametrize("name", ["missing.yml", "shepherd.fleet.site.yml", "dir/shepherd.fleet.site", "site"])
def test_unknown_playbooks_are_refused(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlaybookNotFound, match="playbook not found"):
        resolve_playbook(name)


def test_inventories_must_exist(tmp_path):
    (tmp_path / "a.yml").write_text("all: {}\n")
    assert resolve_inventories(None) == []
    assert resolve_inventories(tmp_path / "a.yml") == [str(tmp_path / "a.yml")]
    assert resolve_inventories([tmp_path / "a.yml", tmp_path]) == [str(tmp_path / "a.yml"), str(tmp_path)]
    assert resolve_inventories("master1,agent1") == ["master1,agent1"]  # a host list, as with -i
    with pytest.raises(InventoryNotFound, match="b.yml"):
        resolve_inventories([tmp_path / "a.yml", tmp_path / "b.yml"])


def test_options_ansible_runner_has_no_parameter_for():
    assert build_cmdline(False, False, 0) == ""
    assert build_cmdline(True, True, 9) == "--check --diff -vvvvvv"
    assert (join_tags(None), join_tags(""), join_tags("a,b"), join_tags(["a", "b"]), join_tags([])) == (
        None, None, "a,b", "a,b", None
    )  # fmt: skip


def test_the_checkout_ansible_cfg_is_found_from_the_playbook(tmp_path):
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "playbooks").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert find_ansible_cfg(str(tmp_path / "playbooks" / "site.yml"), elsewhere) == tmp_path / "ansible.cfg"
    assert find_ansible_cfg(str(tmp_path / "playbooks" / "site.yml"), tmp_path) is None  # ansible finds it itself


def test_environment_adds_the_plan_plugin_and_keeps_the_callers(monkeypatch, tmp_path):
    monkeypatch.setenv("ANSIBLE_CALLBACK_PLUGINS", "/mine")
    monkeypatch.setenv("ANSIBLE_CONFIG", "/etc/ansible/ansible.cfg")
    env = run_environment("/x/site.yml", {"EXTRA": "1"}, tmp_path / "plan.jsonl")
    plugins = env["ANSIBLE_CALLBACK_PLUGINS"].split(":")
    assert plugins[0] == "/mine" and Path(plugins[1]).name == "callback_plugins"
    assert env["SHEPHERD_PLAN_FILE"] == str(tmp_path / "plan.jsonl") and env["EXTRA"] == "1"
    assert "ANSIBLE_CONFIG" not in env  # the caller's setting wins
