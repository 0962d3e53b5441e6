"""Building the Result from ansible-runner events: stats, the failures that count, errors, progress state."""

from pathlib import Path

from shepherd.events import RunTracker, failure_message
from shepherd.result import HostStats

PLAY = {"play": "Site", "play_uuid": "p-1"}


def event(kind, **data):
    return {"event": kind, "event_data": {**PLAY, **data}}


def task(name):
    return event("playbook_on_task_start", task=name)


def host_event(kind, host, name, res=None, **extra):
    return event(kind, host=host, task=name, resolved_action="ansible.builtin.command", res=res or {}, **extra)


def stats(**counts):
    return {"event": "playbook_on_stats", "event_data": counts}


def feed(events, plan=None):
    tracker = RunTracker(plan=plan)
    for item in events:
        tracker.feed(item)
    return tracker


def test_recap_stats_become_host_stats():
    tracker = feed(
        [
            stats(
                ok={"a": 3, "b": 2}, changed={"a": 1}, failures={"b": 1}, dark={}, skipped={"a": 2},
                rescued={"a": 1}, ignored={"b": 1}, processed={"a": 1, "b": 1, "c": 1},
            )
        ]
    )  # fmt: skip
    result = tracker.result("failed", 2, 1.5, Path("/tmp/art"), "site.yml")
    assert result.hosts == {
        "a": HostStats(ok=3, changed=1, skipped=2, rescued=1),
        "b": HostStats(ok=2, failed=1, ignored=1),
        "c": HostStats(),
    }
    assert result.failed_hosts == ["b"] and result.unreachable_hosts == []
    assert (result.status, result.rc, result.duration, result.artifact_dir) == ("failed", 2, 1.5, Path("/tmp/art"))


def test_failed_task_names_host_task_and_message():
    tracker = feed(
        [
            event("playbook_on_play_start"),
            task("Break"),
            host_event("runner_on_failed", "dc1", "Break", {"msg": "non-zero return code", "stderr": "x\ndisk on fire", "rc": 3}),
            host_event("runner_on_ok", "dc2", "Break", {"changed": True}),
            stats(ok={"dc2": 1}, changed={"dc2": 1}, failures={"dc1": 1}),
        ]
    )
    result = tracker.result("failed", 2, 0.1)
    [failed] = result.failed_tasks
    assert (failed.host, failed.task, failed.play) == ("dc1", "Break", "Site")
    assert failed.message == "non-zero return code: disk on fire"
    assert failed.action == "ansible.builtin.command" and not failed.unreachable
    assert result.to_dict()["failed_tasks"][0]["host"] == "dc1"


def test_ignored_and_rescued_failures_do_not_count():
    tracker = feed(
        [
            event("playbook_on_play_start"),
            host_event("runner_on_failed", "a", "Ignored", {"msg": "meh"}, ignore_errors=True),
            host_event("runner_on_failed", "a", "Rescued", {"msg": "first"}),
            host_event("runner_on_failed", "b", "Rescued", {"msg": "first"}),
            host_event("runner_on_failed", "b", "Real", {"msg": "second"}),
            stats(ok={"a": 2, "b": 1}, failures={"b": 1}, rescued={"a": 1, "b": 1}, ignored={"a": 1}),
        ]
    )
    assert [(t.host, t.task, t.message) for t in tracker.failed_tasks()] == [("b", "Real", "second")]


def test_unreachable_hosts_are_reported_as_such():
    tracker = feed(
        [
            event("playbook_on_play_start"),
            host_event("runner_on_unreachable", "ghost", "Ping", {"msg": "No such container: ghost", "unreachable": True}),
            stats(dark={"ghost": 1}),
        ]
    )
    result = tracker.result("failed", 4, 0.1)
    assert result.unreachable_hosts == ["ghost"] and result.failed_hosts == []
    [task_] = result.failed_tasks
    assert task_.unreachable and task_.message == "No such container: ghost"


def test_without_a_recap_the_live_counts_and_every_failure_are_used():
    tracker = feed(
        [
            event("playbook_on_play_start"),
            host_event("runner_on_ok", "a", "One", {"changed": True}),
            host_event("runner_on_ok", "a", "Two", {"changed": False}),
            host_event("runner_on_skipped", "a", "Three"),
            host_event("runner_on_failed", "b", "One", {"msg": "boom"}),
            host_event("runner_on_failed", "b", "Two", {"msg": "ignored"}, ignore_errors=True),
        ]
    )
    result = tracker.result("canceled", 254, 3.0)
    assert result.canceled and not result.ok
    assert result.hosts["a"] == HostStats(ok=2, changed=1, skipped=1)
    assert result.hosts["b"] == HostStats(ok=1, failed=1, ignored=1)
    assert [t.task for t in result.failed_tasks] == ["One"]


def test_ansible_error_lines_are_kept_with_their_origin():
    tracker = feed(
        [
            {"event": "verbose", "stdout": "\x1b[0;31m[ERROR]: couldn't resolve module/action 'nope'.\x1b[0m"},
            {"event": "verbose", "stdout": "\x1b[0;31mOrigin: /x/site.yml:3:7\x1b[0m"},
            {"event": "verbose", "stdout": "PLAY [x] ****"},
        ]
    )
    assert tracker.errors == ["[ERROR]: couldn't resolve module/action 'nope'. (Origin: /x/site.yml:3:7)"]
    assert tracker.result("failed", 4, 0.1).errors == tracker.errors


def test_progress_state_follows_plays_tasks_and_hosts():
    plans = {"p-1": 7}
    tracker = feed(
        [
            event("playbook_on_play_start"),
            task("One"),
            host_event("runner_on_ok", "a", "One"),
            task("Two"),
            event("runner_on_start", host="a", task="Two"),
            event("runner_on_start", host="b", task="Two"),
            host_event("runner_on_failed", "b", "Two", {"msg": "x"}),
        ],
        plan=plans.get,
    )
    assert (tracker.play.name, tracker.play.total, tracker.play.started, tracker.task) == ("Site", 7, 2, "Two")
    assert tracker.task_hosts_started == {"a", "b"} and tracker.task_hosts_done == {"b"}
    assert tracker.failed_hosts == 1 and tracker.unreachable_hosts == 0


def test_failure_message_of_loops_and_modules():
    loop = {"msg": "One or more items failed", "results": [{"failed": False}, {"failed": True, "msg": "item 2 broke"}]}
    assert failure_message(loop) == "One or more items failed: item 2 broke"
    assert failure_message({"module_stderr": "Traceback\nKeyError: x", "msg": "MODULE FAILURE"}) == "MODULE FAILURE: KeyError: x"
    assert failure_message({"rc": 7}) == "rc=7"
    assert failure_message("plain text") == "plain text"
    assert len(failure_message({"msg": "x" * 5000})) == 2000
