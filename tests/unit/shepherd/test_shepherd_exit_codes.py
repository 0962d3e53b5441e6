"""The exit codes tell success, failed hosts, unreachable hosts, other errors, usage errors and cancels apart."""

from pathlib import Path

import pytest

from shepherd.exitcodes import ExitCode, exit_code_for
from shepherd.result import FailedTask, HostStats, Result


def result(status, **hosts):
    return Result(status=status, rc=0 if status == "successful" else 2, hosts=hosts)


@pytest.mark.parametrize(
    ("run", "code"),
    [
        (result("successful", a=HostStats(ok=3)), 0),
        (result("failed", a=HostStats(ok=1), b=HostStats(failed=1)), 2),
        (result("failed", a=HostStats(unreachable=1)), 4),
        (result("failed", a=HostStats(failed=1), b=HostStats(unreachable=1)), 4),
        (result("failed"), 1),
        (result("timeout", a=HostStats(ok=1)), 1),
        (result("canceled", a=HostStats(failed=1)), 130),
    ],
)
def test_exit_code_for_each_outcome(run, code):
    assert exit_code_for(run) == code


def test_codes_are_distinct_and_documented():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 4, 5, 130]
    doc = (Path(__file__).resolve().parents[3] / "docs" / "shepherd-cli.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert f"| {int(code)} " in doc, f"exit code {int(code)} ({code.name}) is not in docs/shepherd-cli.md"


def test_result_properties():
    run = Result(
        status="failed",
        rc=2,
        hosts={"b": HostStats(failed=1), "a": HostStats(unreachable=1), "c": HostStats(ok=1)},
        failed_tasks=[FailedTask(host="b", task="t", message="m")],
    )
    assert (run.ok, run.canceled, run.failed_hosts, run.unreachable_hosts) == (False, False, ["b"], ["a"])
    data = run.to_dict()
    assert list(data["hosts"]) == ["a", "b", "c"] and data["failed_tasks"][0]["task"] == "t"
