"""Run folders: one new folder per run under the runs folder, the newest kept, nothing else touched."""

import os
import stat

from shepherd.rundirs import new_run_dir, prune, runs_root


def test_runs_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SHEPHERD_RUNS_DIR", str(tmp_path / "mine"))
    assert runs_root() == tmp_path / "mine"
    monkeypatch.delenv("SHEPHERD_RUNS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert runs_root() == tmp_path / "cache" / "shepherd" / "runs"


def test_new_run_dirs_are_private_and_old_ones_pruned(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    olds = [root / f"2020010{day}-000000-abcdefgh" for day in range(1, 5)]
    for old in olds:
        (old / "artifacts").mkdir(parents=True)
    (root / "notes").mkdir()  # not a run folder: never removed
    (root / "20200101-000000-file").write_text("a file, not a folder")
    path = new_run_dir(root, keep=3)
    assert path.parent == root and stat.S_IMODE(os.stat(path).st_mode) == 0o700
    left = sorted(p.name for p in root.iterdir())
    assert left == ["20200101-000000-file", olds[2].name, olds[3].name, path.name, "notes"]
    assert prune(root, keep=1) == [olds[2], olds[3]]
