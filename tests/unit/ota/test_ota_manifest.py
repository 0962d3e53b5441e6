"""The manifest format: what is accepted, and errors that name the field."""

import copy

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils import ota_manifest
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_errors import OtaError
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_manifest import validate_manifest

GOOD = {
    "format": 1, "release": "2.4.0", "sequence": 42,
    "programs": [{"name": "app", "version": "2.4.0", "url": "app-2.4.0.bin", "size": 1048576,
                  "md5": "0" * 32, "sha256": "a" * 64, "mode": "0755"}],
    "health": {"command": "./app --check", "timeout": 60},
}


def with_change(path, value):
    doc = copy.deepcopy(GOOD)
    *parents, last = path
    target = doc
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return doc


def test_good_manifest_is_normalised():
    out = validate_manifest(GOOD)
    assert out["programs"][0]["mode"] == "0755"
    assert out["health"] == {"command": "./app --check", "timeout": 60, "attempts": 3, "interval": 2}
    assert validate_manifest(with_change(["health"], KeyError))["health"]["command"] is None


def test_extra_fields_are_kept():
    doc = with_change(["channel"], "stable")
    assert validate_manifest(doc)["channel"] == "stable"


@pytest.mark.parametrize("path, value, field", [
    (["format"], 2, "format"),
    (["format"], True, "format"),
    (["release"], "", "release"),
    (["sequence"], -1, "sequence"),
    (["sequence"], "42", "sequence"),
    (["sequence"], True, "sequence"),
    (["programs"], [], "programs"),
    (["programs", 0, "md5"], KeyError, "programs[0] (app).md5"),
    (["programs", 0, "md5"], "xyz", "programs[0] (app).md5"),
    (["programs", 0, "sha256"], "ab", "programs[0] (app).sha256"),
    (["programs", 0, "size"], -5, "programs[0] (app).size"),
    (["programs", 0, "size"], 1.5, "programs[0] (app).size"),
    (["programs", 0, "url"], "", "programs[0] (app).url"),
    (["programs", 0, "version"], None, "programs[0] (app).version"),
    (["programs", 0, "mode"], "4755", "programs[0] (app).mode"),
    (["programs", 0, "mode"], 493, "programs[0] (app).mode"),
    (["programs", 0, "agent"], "yes", "programs[0] (app).agent"),
    (["health"], "true", "health"),
    (["health", "timeout"], 0, "health.timeout"),
    (["health", "attempts"], 0, "health.attempts"),
    (["health", "command"], "", "health.command"),
])
def test_errors_name_the_field(path, value, field):
    with pytest.raises(OtaError) as err:
        validate_manifest(with_change(path, value))
    assert str(err.value).startswith(field + ":"), str(err.value)


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "a/b", "..", ".hidden", "slot.json", "", "a b",
                                  "x" * 200, "app\n", None, "a..b"])
def test_unsafe_program_names_are_refused(name):
    with pytest.raises(OtaError, match=r"programs\[0\]\.name: .* is not a safe program name"):
        validate_manifest(with_change(["programs", 0, "name"], name))


def test_duplicates_and_two_agents_are_refused():
    doc = copy.deepcopy(GOOD)
    doc["programs"].append(dict(doc["programs"][0]))
    with pytest.raises(OtaError, match=r"programs\[1\] \(app\)\.name: duplicate"):
        validate_manifest(doc)
    doc["programs"][1]["name"] = "app2"
    doc["programs"][0]["agent"] = doc["programs"][1]["agent"] = True
    with pytest.raises(OtaError, match="at most one program"):
        validate_manifest(doc)


def test_parse_rejects_bad_json_and_huge_documents():
    with pytest.raises(OtaError, match="manifest: not valid JSON"):
        ota_manifest.parse_manifest(b'{"format": 1,')
    with pytest.raises(OtaError, match="manifest: expected a JSON object"):
        ota_manifest.parse_manifest(b"[]")
    with pytest.raises(OtaError, match="larger than"):
        ota_manifest.parse_manifest(b" " * (ota_manifest.MANIFEST_MAX_BYTES + 1))


def test_relative_urls_resolve_against_the_manifest_and_schemes_are_checked():
    prog = dict(GOOD["programs"][0])
    assert ota_manifest.program_url("http://fw/rel/2.4/manifest.json", prog) == "http://fw/rel/2.4/app-2.4.0.bin"
    assert ota_manifest.program_url("file:///srv/fw/manifest.json", prog) == "file:///srv/fw/app-2.4.0.bin"
    prog["url"] = "ftp://fw/app"
    with pytest.raises(OtaError, match=r"programs \(app\)\.url: scheme 'ftp'"):
        ota_manifest.program_url("http://fw/manifest.json", prog)
