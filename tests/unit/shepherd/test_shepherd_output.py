"""What people and programs see: the live display, the recap and the --json lines."""

import io
import json

from rich.console import Console

from shepherd.diffs import diff_text
from shepherd.events import RunTracker
from shepherd.jsonout import JsonLines, event_record
from shepherd.progress import ProgressDisplay, format_duration, print_recap
from shepherd.result import FailedTask, HostStats, Result

FAILED = Result(
    status="failed",
    rc=2,
    hosts={"dc1": HostStats(ok=1, failed=1), "dc2": HostStats(ok=2, changed=1)},
    failed_tasks=[FailedTask(host="dc1", task="Break on purpose", message="disk on fire", play="Site")],
    duration=12.5,
)


def console():
    return Console(file=io.StringIO(), width=140, force_terminal=False, color_system=None)


def test_recap_names_failed_host_task_and_message_and_the_exit_code():
    out = console()
    print_recap(out, FAILED)
    text = out.file.getvalue()
    for expected in ("Recap", "dc1", "dc2", "Failed tasks", "Break on purpose", "disk on fire", "failed in 12.5s", "exit 2"):
        assert expected in text


def test_live_display_shows_play_task_hosts_and_progress():
    tracker = RunTracker(plan={"u": 4}.get)
    for item in (
        {"event": "playbook_on_play_start", "event_data": {"play": "Site", "play_uuid": "u"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Install", "play_uuid": "u"}},
        {"event": "runner_on_start", "event_data": {"host": "dc1"}},
        {"event": "runner_on_start", "event_data": {"host": "dc2"}},
        {"event": "runner_on_failed", "event_data": {"host": "dc2", "task": "Install", "res": {"msg": "no"}}},
    ):
        tracker.feed(item)
    out = console()
    display = ProgressDisplay(out, title="site.yml")
    display.on_event({"event": "runner_on_failed", "event_data": {"host": "dc2", "task": "Install", "res": {"msg": "no"}}}, tracker)
    out.print(display)
    text = out.file.getvalue()
    assert "failed: dc2 | Install | no" in text
    assert "play Site" in text and "task Install" in text
    assert "hosts 1/2 done  failed 1  unreachable 0" in text
    assert "task 1/4" in text


def test_without_a_terminal_plays_and_tasks_are_logged_as_lines():
    out = console()
    display = ProgressDisplay(out)
    assert display.live is None
    display.on_event({"event": "playbook_on_play_start", "event_data": {"play": "Site"}}, RunTracker())
    display.on_event({"event": "playbook_on_task_start", "event_data": {"task": "Install"}}, RunTracker())
    assert out.file.getvalue().splitlines() == ["PLAY Site", "  TASK Install"]


def test_event_record_is_compact():
    record = event_record(
        {
            "event": "runner_on_failed",
            "counter": 9,
            "created": "2026-01-01T00:00:00",
            "stdout": "long text",
            "event_data": {"play": "P", "task": "T", "host": "h", "resolved_action": "ansible.builtin.command",
                           "res": {"msg": "boom", "changed": False, "stdout": "x" * 10000}},
        }
    )  # fmt: skip
    assert record == {
        "type": "event", "event": "runner_on_failed", "counter": 9, "created": "2026-01-01T00:00:00", "play": "P",
        "task": "T", "host": "h", "action": "ansible.builtin.command", "changed": False, "message": "boom",
        "ignore_errors": False,
    }  # fmt: skip


def test_plain_output_lines_are_left_out_but_errors_kept():
    assert event_record({"event": "verbose", "stdout": "PLAY [x] ***"}) is None
    assert event_record({"event": "verbose", "counter": 2, "stdout": "\x1b[31m[ERROR]: bad\x1b[0m"}) == {
        "type": "event", "event": "error", "counter": 2, "message": "[ERROR]: bad"
    }  # fmt: skip


def test_json_lines_end_with_the_result_and_its_exit_code():
    stream = io.StringIO()
    output = JsonLines(stream)
    output.on_event({"event": "playbook_on_start", "counter": 1}, RunTracker())
    output.result(FAILED)
    first, last = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "playbook_on_start"
    assert last["type"] == "result" and last["exit_code"] == 2 and last["failed_hosts"] == ["dc1"]
    assert last["failed_tasks"][0]["task"] == "Break on purpose"


def test_format_duration():
    assert [format_duration(s) for s in (3.21, 65, 3725)] == ["3.2s", "1m05s", "1h02m"]


def test_diffs_are_unified_and_shown_only_with_diff():
    res = {"changed": True, "diff": [{"before": "a\nb\n", "after": "a\nc\n", "before_header": "/etc/x", "after_header": "/etc/x"}]}
    assert diff_text(res["diff"]).splitlines() == ["--- /etc/x", "+++ /etc/x", "@@ -1,2 +1,2 @@", " a", "-b", "+c"]
    assert diff_text({"prepared": "+added\n"}) == "+added" and diff_text({}) == "" and diff_text(None) == ""
    assert len(diff_text({"before": "", "after": "x\n" * 500}).splitlines()) == 201
    event = {"event": "runner_on_ok", "event_data": {"host": "dc1", "task": "Write", "res": res}}
    quiet, shown = console(), console()
    ProgressDisplay(quiet).on_event(event, RunTracker())
    ProgressDisplay(shown, show_diff=True).on_event(event, RunTracker())
    assert quiet.file.getvalue() == ""
    assert shown.file.getvalue().splitlines()[0] == "changed: dc1 | Write" and "+c" in shown.file.getvalue()
    assert event_record(event)["diff"].endswith("-b\n+c")


def test_json_lines_stop_quietly_when_the_reader_goes_away():
    class ClosedPipe(io.StringIO):
        writes = 0

        def write(self, text):
            ClosedPipe.writes += 1
            raise BrokenPipeError

    output = JsonLines(ClosedPipe())
    output.on_event({"event": "playbook_on_start", "counter": 1}, RunTracker())
    output.result(FAILED)
    assert output.reader_gone and ClosedPipe.writes == 1
