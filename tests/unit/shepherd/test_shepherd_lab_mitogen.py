"""Mitogen for the lab's runs: the environment that selects it, and nothing when it is not installed."""

import getpass
import importlib.util

from shepherd.lab import mitogen


def test_the_environment_selects_mitogens_strategy_from_its_installed_folder():
    env = mitogen.mitogen_environment()
    strategy_dir = mitogen.mitogen_strategy_dir()
    assert strategy_dir is not None and (strategy_dir / "mitogen_linear.py").is_file()
    assert env == {
        "ANSIBLE_STRATEGY_PLUGINS": str(strategy_dir),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "ANSIBLE_REMOTE_USER": getpass.getuser(),
    }


def test_without_mitogen_installed_the_environment_is_empty(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "ansible_mitogen" else real_find_spec(name, *args)
    )
    assert mitogen.mitogen_strategy_dir() is None
    assert mitogen.mitogen_environment() == {}
