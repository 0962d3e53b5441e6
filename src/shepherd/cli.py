"""The `shepherd` command: `shepherd play ...` and `shepherd lab up | down | status` (see docs/shepherd-cli.md).

Exit codes (shepherd.exitcodes.ExitCode): 0 success, 1 error, 2 failed hosts, 4 unreachable hosts, 5 usage error,
130 canceled.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from shepherd import __version__
from shepherd.exitcodes import ExitCode
from shepherd.lab import LabSpec
from shepherd.lab_command import add_lab_parsers
from shepherd.play_command import add_run_options, play, print_error


EXIT_CODES = (
    "exit codes: 0 success, 1 error (syntax, timeout, Docker), 2 failed hosts, 4 unreachable hosts, "
    "5 usage error, 130 canceled; see docs/shepherd-cli.md"
)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line exits with ExitCode.USAGE (5), not 2 (2 means failed hosts here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.USAGE), f"{self.prog}: error: {message}\n")


def build_parser(lab_defaults: LabSpec | None = None) -> Parser:
    """The whole command line."""
    parser = Parser(prog="shepherd", description="Run shepherd.fleet playbooks and the local lab.", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"shepherd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{play,lab}", required=True, parser_class=Parser)
    play_parser = commands.add_parser(
        "play", help="run a playbook through ansible-runner, with progress and a recap", epilog=EXIT_CODES
    )
    play_parser.add_argument("playbook", type=Path, help="a playbook file (or a collection playbook name)")
    play_parser.add_argument(
        "-i", "--inventory", action="append", default=[], help="an inventory path (repeatable)"
    )
    add_run_options(play_parser)
    play_parser.set_defaults(handler=play)
    lab = commands.add_parser("lab", help="the local lab: up, down, status")
    add_lab_parsers(lab, lab_defaults or LabSpec())
    return parser


class OutputConsole(Console):
    """rich's Console, except that a closed stdout (`shepherd play ... | head`) silences it instead of exiting:
    rich would raise SystemExit from inside the run and abort it halfway; the run goes on to its end instead."""

    def on_broken_pipe(self) -> None:
        if not self.quiet:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self.quiet = True


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ARGV (default sys.argv[1:]), run the command and return its exit code."""
    try:
        lab_defaults = LabSpec.from_env()
    except ValueError as error:
        print_error(str(error))
        return ExitCode.USAGE
    try:
        args = build_parser(lab_defaults).parse_args(argv)
    except SystemExit as exit:
        return int(exit.code or 0)
    console = OutputConsole()
    if not console.is_terminal:
        # Logs and pipes have no width: do not squeeze the recap tables into 80 columns.
        console.width = max(console.width, 160)
    try:
        return int(args.handler(args, console))
    except KeyboardInterrupt:
        print_error("canceled")
        return ExitCode.CANCELED
