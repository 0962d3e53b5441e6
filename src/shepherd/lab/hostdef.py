"""The one test-host definition (molecule/_shared/host.yml), loaded, and the `docker run` options it means.

Molecule's create playbook and the lab start their hosts from the same file, so a lab host is exactly a Molecule
test host. The file is found in the working directory (the collection checkout the lab runs from) or one of its
parents, else next to this package's source (an editable install); SHEPHERD_HOST_DEFINITION names another file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

RELATIVE_PATH = Path("molecule") / "_shared" / "host.yml"
VARIABLE = "shepherd_host_defaults"
# The keys docker_run_options turns into options; a key the lab does not know is an error, never ignored.
KNOWN_KEYS = frozenset(
    ("command", "capabilities", "security_opts", "cgroupns_mode", "volumes", "tmpfs", "stop_signal", "env", "etc_hosts")
)


class HostDefinitionError(RuntimeError):
    """The host definition file is missing or does not say what the lab needs."""


def find_definition(cwd: Path | None = None) -> Path:
    """The host definition file to use (see the module docstring); HostDefinitionError when there is none."""
    override = os.environ.get("SHEPHERD_HOST_DEFINITION")
    if override:
        return Path(override)
    start = (cwd or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parents[3]
    for folder in [start, *start.parents, package_checkout]:
        if (folder / RELATIVE_PATH).is_file():
            return folder / RELATIVE_PATH
    raise HostDefinitionError(
        f"{RELATIVE_PATH} not found in {start} or above: run the lab from a checkout of shepherd.fleet "
        "(or set SHEPHERD_HOST_DEFINITION)"
    )


def load_definition(path: Path | None = None) -> dict[str, Any]:
    """`shepherd_host_defaults` from the definition file, checked to hold exactly the keys the lab uses."""
    path = path or find_definition()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise HostDefinitionError(f"cannot read the host definition {path}: {error}") from error
    definition = data.get(VARIABLE) if isinstance(data, dict) else None
    if not isinstance(definition, dict):
        raise HostDefinitionError(f"{path}: no {VARIABLE} mapping")
    unknown, missing = set(definition) - KNOWN_KEYS, KNOWN_KEYS - set(definition)
    if unknown or missing:
        details = "; ".join(
            part
            for part in (
                f"keys the lab does not apply: {', '.join(sorted(unknown))}" if unknown else "",
                f"missing keys: {', '.join(sorted(missing))}" if missing else "",
            )
            if part
        )
        raise HostDefinitionError(f"{path}: {VARIABLE}: {details} (update src/shepherd/lab/hostdef.py with it)")
    return definition


def docker_run_options(definition: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """`docker run` options for a host of DEFINITION, labelled with LABELS. A volume without a host path (an
    anonymous volume such as /var/lib/docker) is mounted with the labels too, so the lab can find and remove it."""
    options: list[str] = []
    for capability in definition["capabilities"]:
        options += ["--cap-add", capability]
    for security_opt in definition["security_opts"]:
        options += ["--security-opt", security_opt]
    options += ["--cgroupns", definition["cgroupns_mode"]]
    volume_labels = "".join(f",volume-label={key}={value}" for key, value in labels.items())
    for volume in definition["volumes"]:
        if ":" in volume:
            options += ["--volume", volume]
        else:
            options += ["--mount", f"type=volume,destination={volume}{volume_labels}"]
    for path in definition["tmpfs"]:
        options += ["--tmpfs", path]
    options += ["--stop-signal", definition["stop_signal"]]
    for key, value in definition["env"].items():
        options += ["--env", f"{key}={value}"]
    for name, address in definition["etc_hosts"].items():
        options += ["--add-host", f"{name}:{address}"]
    for key, value in labels.items():
        options += ["--label", f"{key}={value}"]
    return options
