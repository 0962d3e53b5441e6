"""The exit codes of the `shepherd` command (documented in docs/shepherd-cli.md)."""

from __future__ import annotations

from enum import IntEnum

from shepherd.result import CANCELED, SUCCESSFUL, Result


class ExitCode(IntEnum):
    """What `shepherd` exits with; the numbers of ansible-playbook where they mean the same."""

    OK = 0  # the run succeeded (or the lab command did what it was asked)
    ERROR = 1  # the run could not go on for another reason: syntax error, timeout, Docker or lab trouble
    FAILED_HOSTS = 2  # at least one host failed a task (none unreachable)
    UNREACHABLE_HOSTS = 4  # at least one host was unreachable (whether or not others failed)
    USAGE = 5  # bad command line: unknown option, missing playbook or inventory, malformed -e
    CANCELED = 130  # stopped by Ctrl-C (SIGINT) or SIGTERM; the result says "canceled"


def exit_code_for(result: Result) -> ExitCode:
    """The exit code that tells what happened to a run."""
    if result.status == CANCELED:
        return ExitCode.CANCELED
    if result.status == SUCCESSFUL:
        return ExitCode.OK
    if result.unreachable_hosts:
        return ExitCode.UNREACHABLE_HOSTS
    if result.failed_hosts:
        return ExitCode.FAILED_HOSTS
    return ExitCode.ERROR
