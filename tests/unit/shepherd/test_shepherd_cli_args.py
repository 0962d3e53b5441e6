"""The command line: what `shepherd play` and `shepherd lab` accept, and how bad input exits (5, not 2)."""

import json
from pathlib import Path

import pytest

from shepherd.cli import build_parser, main
from shepherd.exitcodes import ExitCode
from shepherd.extravars import ExtraVarsError, merge_extra_vars, parse_extra_vars
from shepherd.lab import LabSpec


def test_play_takes_ansible_playbook_options():
    args = build_parser().parse_args(
        ["play", "site.yml", "-i", "a.yml", "-i", "b.yml", "--limit", "dc1", "-t", "x", "--tags", "y,z",
         "--skip-tags", "slow", "--check", "--diff", "-e", "a=1", "-e", "@vars.yml", "--json", "-vv"]
    )  # fmt: skip
    assert args.playbook == Path("site.yml")
    assert args.inventory == ["a.yml", "b.yml"]
    assert args.limit == "dc1"
    assert args.tags == ["x", "y,z"]
    assert args.skip_tags == ["slow"]
    assert args.check and args.diff and args.json
    assert args.extra_vars == ["a=1", "@vars.yml"]
    assert args.verbose == 2


def test_play_defaults_are_a_plain_run():
    args = build_parser().parse_args(["play", "site.yml"])
    assert (args.inventory, args.limit, args.tags, args.check, args.diff, args.json) == ([], None, [], False, False, False)


def test_lab_up_sizes_and_paths():
    args = build_parser().parse_args(
        ["lab", "up", "--name", "t1", "--masters", "3", "--agents", "2", "--storage", "1", "--devices", "0",
         "--subnet", "10.9.8.0/24", "--inventory-dir", "/tmp/x", "--playbook", "p.yml", "--no-converge"]
    )  # fmt: skip
    assert (args.name, args.masters, args.agents, args.storage, args.devices) == ("t1", 3, 2, 1, 0)
    assert args.subnet == "10.9.8.0/24"
    assert args.inventory_dir == Path("/tmp/x") and args.playbook == Path("p.yml") and args.no_converge


def test_lab_defaults():
    args = build_parser().parse_args(["lab", "up"])
    assert (args.name, args.masters, args.agents, args.storage, args.devices) == ("shepherd-lab", 1, 2, 0, 2)
    assert args.subnet == "172.30.77.0/24"
    assert args.playbook == Path("tests/lab/lab.yml") and args.inventory_dir == Path("inventories/lab")
    assert not args.no_converge and not args.no_mitogen
    assert build_parser().parse_args(["lab", "up", "--no-mitogen"]).no_mitogen


def test_lab_sizes_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHEPHERD_LAB_DEVICES", "4")
    monkeypatch.setenv("SHEPHERD_LAB_NAME", "mine")
    args = build_parser(LabSpec.from_env()).parse_args(["lab", "up"])
    assert (args.name, args.devices, args.masters) == ("mine", 4, 1)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["play"],
        ["play", "x.yml", "--no-such-option"],
        ["lab"],
        ["lab", "sideways"],
        ["lab", "up", "--devices", "many"],
    ],
)
def test_bad_command_lines_exit_with_the_usage_code(argv, capsys):
    assert main(argv) == ExitCode.USAGE == 5
    assert "usage:" in capsys.readouterr().err


def test_bad_environment_size_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("SHEPHERD_LAB_DEVICES", "lots")
    assert main(["lab", "status"]) == ExitCode.USAGE


def test_missing_playbook_is_a_usage_error_before_anything_runs(tmp_path, capsys):
    assert main(["play", str(tmp_path / "nope.yml")]) == ExitCode.USAGE
    assert "playbook not found" in capsys.readouterr().err


def test_missing_inventory_is_a_usage_error(tmp_path, capsys):
    playbook = tmp_path / "p.yml"
    playbook.write_text("- hosts: all\n  tasks: []\n")
    assert main(["play", str(playbook), "-i", str(tmp_path / "none.yml")]) == ExitCode.USAGE
    assert "inventory not found" in capsys.readouterr().err


def test_malformed_extra_vars_are_a_usage_error(tmp_path, capsys):
    playbook = tmp_path / "p.yml"
    playbook.write_text("- hosts: all\n  tasks: []\n")
    assert main(["play", str(playbook), "-e", "novalue"]) == ExitCode.USAGE
    assert "key=value" in capsys.readouterr().err


def test_lab_up_without_playbook_is_a_usage_error(tmp_path, capsys):
    assert main(["lab", "up", "--playbook", str(tmp_path / "site.yml"), "--name", "unit-no-such-lab"]) == 5
    assert "--no-converge" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("shepherd ")


def test_extra_vars_key_value_pairs_are_strings():
    assert parse_extra_vars("a=1 b='two words' c=") == {"a": "1", "b": "two words", "c": ""}


def test_extra_vars_inline_json_and_yaml_keep_types():
    assert parse_extra_vars('{"n": 3, "l": [1, 2]}') == {"n": 3, "l": [1, 2]}
    assert parse_extra_vars("{flag: true}") == {"flag": True}


def test_extra_vars_from_files(tmp_path):
    (tmp_path / "v.yml").write_text("region: eu\ncount: 2\n")
    (tmp_path / "v.json").write_text(json.dumps({"count": 5}))
    merged = merge_extra_vars([f"@{tmp_path / 'v.yml'}", f"@{tmp_path / 'v.json'}", "region=us"])
    assert merged == {"region": "us", "count": 5}


@pytest.mark.parametrize("value", ["justaword", "=x", "[1, 2]", "{a: [", "@/no/such/file.yml"])
def test_extra_vars_errors(value):
    with pytest.raises(ExtraVarsError):
        parse_extra_vars(value)


def test_help_lists_the_exit_codes(capsys):
    assert main(["play", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0 success" in help_text and "2 failed hosts" in help_text and "4 unreachable hosts" in help_text
