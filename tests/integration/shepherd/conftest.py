"""Runs made by these tests keep their artifacts under the test's own temporary folder."""

import pytest


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SHEPHERD_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"
