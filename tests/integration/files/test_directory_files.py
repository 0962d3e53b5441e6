"""shepherd.fleet.directory_files through ansible-playbook on localhost: check mode writes nothing, diff shows
each file, a second run changes nothing, unlisted files matching a pattern go (others and directories stay), a
changed mode alone is a change, and bad input fails naming the field without touching the directory."""

import stat


def task(name, **args):
    return {"name": name, "shepherd.fleet.directory_files": args, "ignore_errors": True}


def listing(directory):
    return {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}


def test_write_check_diff_idempotence_and_removal(tmp_path, playbook):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "old.flag").write_text("1\n")
    (conf / "keep.txt").write_text("not ours\n")
    (conf / "sub.flag").mkdir()  # a directory matching the pattern is never removed
    files = {"quorum": "2\n", "?hostname_lookup": "", "work_dir": "/var/lib/mesos\n"}
    args = dict(path=str(conf), files=files, remove_unlisted=["*.flag", "[?]*"], mode="0640")
    rc, res = playbook(tmp_path, [dict(task("check", **args), check_mode=True, diff=True)])
    check = res["check"]
    assert rc == 0 and check["changed"], check
    assert check["written"] == ["?hostname_lookup", "quorum", "work_dir"] and check["removed"] == ["old.flag"]
    assert listing(conf) == {"old.flag": "1\n", "keep.txt": "not ours\n"}, "check mode wrote"
    diffs = {d["after_header"]: d for d in check["diff"]}
    assert diffs[str(conf / "quorum")]["after"] == "2\n"
    assert diffs[str(conf / "old.flag") + " (absent)"]["before"] == "1\n"

    rc, res = playbook(tmp_path, [task("write", **args), task("again", **args)])
    assert rc == 0 and res["write"]["changed"] and not res["again"]["changed"], res
    assert res["again"]["written"] == [] and res["again"]["removed"] == []
    assert listing(conf) == dict(files, **{"keep.txt": "not ours\n"})
    assert stat.S_IMODE((conf / "quorum").stat().st_mode) == 0o640
    assert (conf / "sub.flag").is_dir()
    assert not [p for p in conf.iterdir() if p.name.endswith(".tmp")]

    (conf / "quorum").chmod(0o600)
    (conf / "work_dir").write_text("/srv/mesos\n")
    rc, res = playbook(tmp_path, [dict(task("repair", **args), diff=True)])
    repair = res["repair"]
    assert repair["changed"] and repair["written"] == ["work_dir"]
    assert stat.S_IMODE((conf / "quorum").stat().st_mode) == 0o640
    assert (conf / "work_dir").read_text() == "/var/lib/mesos\n"
    assert any(d.get("before", {}) == {"path": str(conf / "quorum"), "mode": "0600"} for d in repair["diff"]
               if isinstance(d.get("before"), dict)), repair["diff"]


def test_bad_input_names_the_field_and_changes_nothing(tmp_path, playbook):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "a").write_text("a\n")
    (conf / "nested").mkdir()
    rc, res = playbook(tmp_path, [
        task("slash", path=str(conf), files={"a": "new\n", "../escape": "x"}, remove_unlisted=["*"]),
        task("directory", path=str(conf), files={"a": "new\n", "nested": "x"}, remove_unlisted=["*"]),
        task("no dir", path=str(tmp_path / "missing"), files={"a": "x"}),
    ])
    assert res["slash"]["failed"] and res["slash"]["msg"] == "files: not a plain file name: '../escape'"
    assert res["directory"]["failed"] and res["directory"]["msg"] == "files: nested is a directory in %s" % conf
    assert res["no dir"]["failed"] and res["no dir"]["msg"] == "path: %s is not a directory" % (tmp_path / "missing")
    assert listing(conf) == {"a": "a\n"} and not (tmp_path / "escape").exists()
