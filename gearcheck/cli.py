"""The ``gearcheck`` command.

Each subcommand lives in its own module under ``gearcheck/commands`` and
exposes ``register(subparsers)``, which adds its parser and sets ``func``;
this file only discovers them. A command line that names its subcommand
imports that module alone (several import scapy, hypothesis or Locust at the
top, a second or more of start-up a run would not use); ``--help`` and
anything else import them all. Exit codes are the CI interface: 0 compliant,
1 a check failed, 2 the harness could not run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading

from . import commands
from .commands._options import CommandParser
from .results import tool_version

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: every subcommand, or just ``only`` when it is one of them."""
    parser = CommandParser(
        prog="gearcheck",
        description="Conformance and load testing for Gearman job servers and client "
                    "libraries. Exit codes: 0 all good, 1 a check failed, 2 the harness could "
                    "not run. `gearcheck COMMAND --help` describes each command.")
    parser.add_argument("--version", action="version",
                        version=f"gearcheck {tool_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__)
                   if not m.name.startswith("_"))
    only = only.replace("-", "_") if only else only  # replay-profile lives in replay_profile
    for name in [only] if only in names else names:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.register(sub)
    return parser


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, a kill) unwinds like Ctrl-C, so every server, worker and
    proxy the command started is stopped by the code that started it."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a bad option (one line printed)
        return stop.code if isinstance(stop.code, int) else EXIT_HARNESS
    _stop_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("gearcheck: interrupted", file=sys.stderr)
        return EXIT_HARNESS


if __name__ == "__main__":
    sys.exit(main())
