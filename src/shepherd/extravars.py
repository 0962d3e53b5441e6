"""Parsing `-e` values the way ansible-playbook reads them: key=value pairs, inline YAML/JSON, or @file."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


class ExtraVarsError(ValueError):
    """A -e value that is neither key=value, a YAML/JSON mapping nor @file of one."""


def parse_extra_vars(value: str) -> dict[str, Any]:
    """One -e value as a mapping. `key=value other=x` gives strings; `{...}` and `@file` are YAML (JSON too)."""
    text = value.strip()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            return _mapping(path.read_text(encoding="utf-8"), f"@{path}")
        except OSError as error:
            raise ExtraVarsError(f"cannot read extra vars file {path}: {error.strerror}") from error
    if text.startswith(("{", "[")):
        return _mapping(text, value)
    variables: dict[str, Any] = {}
    for pair in shlex.split(text):
        key, sep, val = pair.partition("=")
        if not sep or not key.strip():
            raise ExtraVarsError(f"extra vars must be key=value, {{...}} or @file, not {pair!r}")
        variables[key.strip()] = val
    return variables


def merge_extra_vars(values: Iterable[str]) -> dict[str, Any]:
    """All -e values merged in order: a later value replaces an earlier one's top-level key, as in Ansible."""
    merged: dict[str, Any] = {}
    for value in values:
        merged.update(parse_extra_vars(value))
    return merged


def _mapping(text: str, origin: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ExtraVarsError(f"extra vars {origin} are not valid YAML/JSON: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ExtraVarsError(f"extra vars {origin} must be a mapping, not {type(data).__name__}")
    return data
