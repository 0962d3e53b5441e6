"""The Python API: run a playbook through ansible-runner and get a `Result` back.

    import shepherd
    result = shepherd.run("playbooks/site.yml", "inventories/lab/hosts.yml", extra_vars={"x": 1}, limit="dc1")
    if not result.ok:
        for task in result.failed_tasks:
            print(task.host, task.task, task.message)

Each run gets its own private data directory (a new one under the runs folder unless `private_data_dir` is given,
see rundirs.py), so runs never share ansible-runner state; the artifacts (stdout, job_events/, rc, status) stay
there for inspection.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ansible_runner

from shepherd.cancel import Canceller
from shepherd.events import Event, RunTracker
from shepherd.plan import PlanFile
from shepherd.result import CANCELED, STOPPED_RC, TIMEOUT, Result
from shepherd.rundirs import new_run_dir

PathLike = str | os.PathLike[str]
# Called with every ansible-runner event and the tracker that has just taken it into account.
EventCallback = Callable[[Event, RunTracker], None]

# namespace.collection.playbook (ansible-playbook looks it up in the installed collections).
COLLECTION_PLAYBOOK = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[A-Za-z0-9_.]+$")
CALLBACK_PLUGINS = Path(__file__).resolve().parent / "callback_plugins"
# How often (seconds) ansible-runner looks at the cancel flag while ansible-playbook runs.
CANCEL_POLL = 0.25


class PlaybookNotFound(FileNotFoundError):
    """The playbook is neither a file nor a collection playbook name (namespace.collection.playbook)."""


class InventoryNotFound(FileNotFoundError):
    """An inventory path does not exist."""


class AnsibleNotFound(FileNotFoundError):
    """ansible-playbook is neither on PATH nor next to this Python (its virtual environment's bin/)."""


def resolve_playbook(playbook: PathLike) -> str:
    """An absolute path for a playbook file, or a collection playbook name (a.b.c) as it is."""
    path = Path(playbook)
    if path.is_file():
        return str(path.resolve())
    name = str(playbook)
    if COLLECTION_PLAYBOOK.match(name) and not name.endswith((".yml", ".yaml")):
        return name
    raise PlaybookNotFound(f"playbook not found: {name}")


def resolve_inventories(inventory: PathLike | Sequence[PathLike] | None) -> list[str]:
    """Absolute paths of the inventory sources, each of which must exist, or comma-separated host lists."""
    if inventory is None:
        return []
    sources = [inventory] if isinstance(inventory, (str, os.PathLike)) else list(inventory)
    paths = []
    for source in sources:
        path = Path(source)
        if not path.exists() and "," in str(source):
            paths.append(str(source))  # a host list such as "host1,host2," as ansible-playbook -i takes it
            continue
        if not path.exists():
            raise InventoryNotFound(f"inventory not found: {source}")
        paths.append(str(path.resolve()))
    return paths


def find_ansible_cfg(playbook: str, cwd: Path) -> Path | None:
    """The ansible.cfg ansible-playbook should use when none is in the working directory and ANSIBLE_CONFIG is
    unset: the nearest one in the playbook's folder or above (a collection checkout's own settings)."""
    if (cwd / "ansible.cfg").is_file():
        return None
    start = Path(playbook).parent if os.path.isabs(playbook) else cwd
    for folder in [start, *start.parents]:
        candidate = folder / "ansible.cfg"
        if candidate.is_file():
            return candidate
    return None


def build_cmdline(check: bool, diff: bool, verbosity: int) -> str:
    """The ansible-playbook options ansible-runner has no parameter for."""
    options = []
    if check:
        options.append("--check")
    if diff:
        options.append("--diff")
    if verbosity > 0:
        options.append("-" + "v" * min(verbosity, 6))
    return " ".join(options)


def join_tags(tags: str | Sequence[str] | None) -> str | None:
    """Tags as ansible-playbook takes them: one comma-separated string."""
    if tags is None or isinstance(tags, str):
        return tags or None
    return ",".join(tags) or None


def run_environment(playbook: str, envvars: Mapping[str, str] | None, plan_path: Path) -> dict[str, str]:
    """Environment additions for ansible-playbook: the shepherd callback plugins, the plan file and, when
    needed, the playbook checkout's ansible.cfg and a PATH that finds ansible-playbook."""
    env = dict(envvars or {})
    plugins = [env.get("ANSIBLE_CALLBACK_PLUGINS") or os.environ.get("ANSIBLE_CALLBACK_PLUGINS"), str(CALLBACK_PLUGINS)]
    env["ANSIBLE_CALLBACK_PLUGINS"] = ":".join(p for p in plugins if p)
    env["SHEPHERD_PLAN_FILE"] = str(plan_path)
    path = env.get("PATH") or os.environ.get("PATH", "")
    if shutil.which("ansible-playbook", path=path) is None:
        # A program may use this virtual environment's Python without activating it.
        path = os.pathsep.join(p for p in (os.path.dirname(sys.executable), path) if p)
        if shutil.which("ansible-playbook", path=path) is None:
            raise AnsibleNotFound("ansible-playbook not found on PATH nor next to " + sys.executable)
        env["PATH"] = path
    if "ANSIBLE_CONFIG" not in env and "ANSIBLE_CONFIG" not in os.environ:
        config = find_ansible_cfg(playbook, Path.cwd())
        if config is not None:
            env["ANSIBLE_CONFIG"] = str(config)
    return env


def run(
    playbook: PathLike,
    inventory: PathLike | Sequence[PathLike] | None = None,
    *,
    extra_vars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    tags: str | Sequence[str] | None = None,
    skip_tags: str | Sequence[str] | None = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    private_data_dir: PathLike | None = None,
    envvars: Mapping[str, str] | None = None,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
) -> Result:
    """Run `playbook` against `inventory` through ansible-runner and return what happened.

    playbook: a playbook file, or a collection playbook name such as shepherd.fleet.site.
    inventory: one inventory path or several (None: Ansible's configured default).
    extra_vars, limit, tags, skip_tags, check, diff, verbosity: as ansible-playbook's -e, -l, -t, --skip-tags,
    -C, -D and -v.
    private_data_dir: ansible-runner's private data directory; default a new folder under rundirs.runs_root()
    (the newest 20 are kept).
    envvars: extra environment variables for ansible-playbook.
    on_event: called with every ansible-runner event and the run's tracker (current play and task, stats).
    cancel: set it (from any thread or a signal handler) to stop the run: ansible-playbook and its workers are
    terminated (see cancel.Canceller), none is left behind, and the result's status is "canceled".
    timeout: seconds after which the run is stopped with status "timeout".

    Raises PlaybookNotFound, InventoryNotFound or AnsibleNotFound before anything runs. The working directory of
    ansible-playbook is the caller's, as with ansible-playbook itself.
    """
    playbook_arg = resolve_playbook(playbook)
    inventories = resolve_inventories(inventory)
    data_dir = Path(private_data_dir) if private_data_dir else new_run_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    ident = uuid.uuid4().hex
    plan_path = data_dir / f"plan-{ident}.jsonl"
    tracker = RunTracker(plan=PlanFile(plan_path))
    canceller = Canceller(cancel or threading.Event(), timeout=timeout)

    callback = [on_event]

    def handle_event(event: dict[str, Any]) -> bool:
        canceller.watch(event.get("pid"))
        tracker.feed(event)
        if callback[0] is not None:
            try:
                callback[0](event, tracker)
            except Exception as error:  # a broken callback must not break the run: ansible-playbook would be orphaned
                callback[0] = None
                tracker.errors.append(f"shepherd: on_event failed and got no further events: {type(error).__name__}: {error}")
        return True

    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(data_dir),
        project_dir=os.getcwd(),
        ident=ident,
        playbook=playbook_arg,
        inventory=inventories or None,
        extravars=dict(extra_vars) if extra_vars else None,
        limit=limit,
        tags=join_tags(tags),
        skip_tags=join_tags(skip_tags),
        cmdline=build_cmdline(check, diff, verbosity) or None,
        envvars=run_environment(playbook_arg, envvars, plan_path),
        quiet=True,
        settings={"pexpect_timeout": CANCEL_POLL},
        event_handler=handle_event,
        cancel_callback=canceller,
    )
    canceller.reap()
    status = str(runner.status)
    rc = int(runner.rc if runner.rc is not None else 1)
    if canceller.signalled_at is not None or status == CANCELED:
        # ansible-playbook may have ended on the SIGTERM (with its own rc) before ansible-runner looked again:
        # still a stop, reported the same way whichever came first.
        status = TIMEOUT if canceller.timed_out else CANCELED
        rc = STOPPED_RC
    return tracker.result(
        status=status,
        rc=rc,
        duration=time.monotonic() - started,
        artifact_dir=Path(runner.config.artifact_dir),
        playbook=playbook_arg,
    )
