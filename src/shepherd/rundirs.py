"""Where runs keep their ansible-runner private data directory (the artifacts), and the pruning of old ones.

Each run without an explicit `private_data_dir` gets a new folder YYYYmmdd-HHMMSS-xxxxxxxx under the runs
folder: $SHEPHERD_RUNS_DIR, else $XDG_CACHE_HOME/shepherd/runs, else ~/.cache/shepherd/runs. The newest KEEP
folders stay (so the last runs can be inspected after the fact); older ones of that name pattern are removed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

KEEP = 20
RUN_NAME = re.compile(r"^\d{8}-\d{6}-\w+$")


def runs_root() -> Path:
    """The folder that holds the runs' folders."""
    if os.environ.get("SHEPHERD_RUNS_DIR"):
        return Path(os.environ["SHEPHERD_RUNS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "shepherd" / "runs"


def new_run_dir(root: Path | None = None, keep: int = KEEP) -> Path:
    """A new, empty folder for one run (mode 0700: artifacts may hold secrets); prunes the oldest beyond KEEP."""
    root = root or runs_root()
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=root))
    prune(root, keep)
    return path


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the newest KEEP run folders in ROOT (only names of the run pattern); the removed ones."""
    runs = sorted(entry for entry in root.iterdir() if entry.is_dir() and RUN_NAME.match(entry.name))
    old = runs[:-keep] if keep > 0 else runs
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return old
