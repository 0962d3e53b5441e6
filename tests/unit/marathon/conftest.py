"""Fixtures for the Marathon unit tests: the upstream API examples and an in-process Marathon stand-in."""

import json
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "marathon-api"
EXAMPLES = SHARED / "spec-master" / "docs" / "docs" / "rest-api" / "public" / "api" / "v2" / "examples"
SCHEMAS = SHARED / "spec-v1.7.236" / "docs" / "docs" / "rest-api" / "public" / "api" / "v2" / "schema"
STANDIN_DIR = REPO / "tests" / "standins" / "marathon"

if str(STANDIN_DIR) not in sys.path:
    sys.path.insert(0, str(STANDIN_DIR))


def load_example(name):
    """An example JSON from upstream Marathon (skips the test, saying so, when ../shared/marathon-api is absent)."""
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip("upstream Marathon examples not found at %s (../shared/marathon-api is absent)" % EXAMPLES)
    return json.loads(path.read_text())


@pytest.fixture
def upstream_example():
    return load_example


@pytest.fixture
def standin():
    import marathon_standin

    server = marathon_standin.MarathonStandin(port=0, deploy_seconds=0.05).start()
    yield server
    server.stop()
