"""The lab starts its hosts from the one test-host definition (molecule/_shared/host.yml), like Molecule does."""

import pathlib

import pytest
import yaml

from shepherd.lab.hostdef import HostDefinitionError, docker_run_options, find_definition, load_definition

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = REPO / "molecule" / "_shared" / "host.yml"


def test_the_lab_loads_the_shared_definition_from_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("SHEPHERD_HOST_DEFINITION", raising=False)
    monkeypatch.chdir(REPO / "tests")
    assert find_definition() == SHARED
    # Outside any checkout, the package's own checkout (editable install) is the fallback.
    monkeypatch.chdir(tmp_path)
    assert find_definition() == SHARED
    shared = yaml.safe_load(SHARED.read_text(encoding="utf-8"))["shepherd_host_defaults"]
    assert load_definition() == shared


def test_every_value_of_the_definition_becomes_a_docker_run_option():
    definition = load_definition(SHARED)
    joined = " ".join(docker_run_options(definition, {"shepherd.lab": "t"}))
    for capability in definition["capabilities"]:
        assert f"--cap-add {capability}" in joined
    for security_opt in definition["security_opts"]:
        assert f"--security-opt {security_opt}" in joined
    assert f"--cgroupns {definition['cgroupns_mode']}" in joined
    for volume in definition["volumes"]:
        if ":" in volume:
            assert f"--volume {volume}" in joined
        else:  # anonymous volumes carry the lab label, so `down` finds them
            assert f"--mount type=volume,destination={volume},volume-label=shepherd.lab=t" in joined
    for path in definition["tmpfs"]:
        assert f"--tmpfs {path}" in joined
    assert f"--stop-signal {definition['stop_signal']}" in joined
    for key, value in definition["env"].items():
        assert f"--env {key}={value}" in joined
    for name, address in definition["etc_hosts"].items():
        assert f"--add-host {name}:{address}" in joined
    assert "--label shepherd.lab=t" in joined
    assert "--privileged" not in joined


def test_a_key_the_lab_would_ignore_is_an_error_that_names_it(tmp_path):
    data = yaml.safe_load(SHARED.read_text(encoding="utf-8"))
    data["shepherd_host_defaults"]["sysctls"] = {"net.ipv4.ip_forward": 1}
    del data["shepherd_host_defaults"]["tmpfs"]
    path = tmp_path / "host.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(HostDefinitionError, match="does not apply: sysctls; missing keys: tmpfs"):
        load_definition(path)


def test_a_missing_definition_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("SHEPHERD_HOST_DEFINITION", str(tmp_path / "nope.yml"))
    with pytest.raises(HostDefinitionError, match="nope.yml"):
        load_definition()
