"""Fixtures for the Marathon unit tests: the upstream API examples and an in-process Marathon stand-in."""

import pathlib
import sys

import marathon_upstream
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
STANDIN_DIR = REPO / "tests" / "standins" / "marathon"

if str(STANDIN_DIR) not in sys.path:
    sys.path.insert(0, str(STANDIN_DIR))


@pytest.fixture
def upstream_example():
    return marathon_upstream.load_example


@pytest.fixture
def standin():
    import marathon_standin

    server = marathon_standin.MarathonStandin(port=0, deploy_seconds=0.05).start()
    yield server
    server.stop()
