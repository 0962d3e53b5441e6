"""`shepherd play`: run one playbook with a live display (or JSON lines) and exit with a code that says how it went.

`lab up` converges the lab through the same `execute`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from shepherd.cancel import cancel_on_signals
from shepherd.exitcodes import ExitCode, exit_code_for
from shepherd.extravars import ExtraVarsError, merge_extra_vars
from shepherd.jsonout import JsonLines
from shepherd.progress import ProgressDisplay, print_recap
from shepherd.runner import AnsibleNotFound, InventoryNotFound, PlaybookNotFound, run


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of a run, as ansible-playbook spells them."""
    parser.add_argument(
        "-e", "--extra-vars", action="append", default=[], metavar="VARS",
        help="extra variables: key=value, a YAML/JSON mapping, or @file; repeatable, later ones win",
    )  # fmt: skip
    parser.add_argument("-l", "--limit", help="run only on these hosts or groups (an Ansible host pattern)")
    parser.add_argument("-t", "--tags", action="append", default=[], help="only tasks with these tags (repeatable)")
    parser.add_argument("--skip-tags", action="append", default=[], help="skip tasks with these tags (repeatable)")
    parser.add_argument("-C", "--check", action="store_true", help="check mode: change nothing, report what would")
    parser.add_argument("-D", "--diff", action="store_true", help="show the differences of changed files")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop the run after this long (status timeout)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="ansible-playbook verbosity (artifacts)")
    parser.add_argument(
        "--json", action="store_true",
        help="print machine-readable events and the final result as JSON lines instead of the live display",
    )  # fmt: skip


def print_error(message: str) -> None:
    """One line on stderr, prefixed with the command's name."""
    Console(stderr=True).print(f"shepherd: {message}", highlight=False, soft_wrap=True)


def execute(
    args: argparse.Namespace,
    playbook: str | Path,
    inventory: Path | list[str] | None,
    console: Console,
    envvars: Mapping[str, str] | None = None,
) -> int:
    """Run PLAYBOOK against INVENTORY with ARGS' run options (and ENVVARS for ansible-playbook); print the display or
    JSON; return the exit code."""
    try:
        extra_vars = merge_extra_vars(args.extra_vars)
    except ExtraVarsError as error:
        print_error(str(error))
        return ExitCode.USAGE
    options = {
        "extra_vars": extra_vars,
        "limit": args.limit,
        "tags": args.tags or None,
        "skip_tags": args.skip_tags or None,
        "check": args.check,
        "diff": args.diff,
        "verbosity": args.verbose,
        "timeout": args.timeout,
        "envvars": envvars,
    }
    with cancel_on_signals() as cancel:
        try:
            if args.json:
                output = JsonLines(sys.stdout)
                result = run(playbook, inventory, on_event=output.on_event, cancel=cancel, **options)
                output.result(result)
            else:
                with ProgressDisplay(console, title=str(playbook), show_diff=args.diff) as display:
                    result = run(playbook, inventory, on_event=display.on_event, cancel=cancel, **options)
                print_recap(console, result)
        except (PlaybookNotFound, InventoryNotFound) as error:
            print_error(str(error))
            return ExitCode.USAGE
        except AnsibleNotFound as error:
            print_error(str(error))
            return ExitCode.ERROR
    return exit_code_for(result)


def play(args: argparse.Namespace, console: Console) -> int:
    """`shepherd play PLAYBOOK [-i INVENTORY]... [run options]`."""
    return execute(args, args.playbook, args.inventory or None, console)
