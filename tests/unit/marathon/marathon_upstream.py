"""Where the upstream Marathon reference material is: ../shared/marathon-api next to the repository.

CI runs on a fresh clone, where that folder may be missing: the tests that need it skip, saying so.
SHEPHERD_MARATHON_API overrides the location (an empty or missing folder makes those tests skip).
"""

import json
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = pathlib.Path(os.environ.get("SHEPHERD_MARATHON_API") or REPO.parent / "shared" / "marathon-api")
EXAMPLES = SHARED / "spec-master" / "docs" / "docs" / "rest-api" / "public" / "api" / "v2" / "examples"
SCHEMAS = SHARED / "spec-v1.7.236" / "docs" / "docs" / "rest-api" / "public" / "api" / "v2" / "schema"


def load_example(name):
    """An example JSON from upstream Marathon (skips the test, saying so, when the examples are absent)."""
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip("upstream Marathon examples not found at %s (../shared/marathon-api is absent)" % EXAMPLES)
    return json.loads(path.read_text())


def load_schema(name):
    """An upstream JSON Schema (v1.7.236; skips the test, saying so, when the schemas are absent)."""
    path = SCHEMAS / name
    if not path.is_file():
        pytest.skip("upstream JSON Schemas not found at %s (../shared/marathon-api is absent)" % SCHEMAS)
    return json.loads(path.read_text())
