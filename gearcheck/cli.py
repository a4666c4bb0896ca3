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
import sys

from . import commands

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: every subcommand, or just ``only`` when it is one of them."""
    parser = argparse.ArgumentParser(
        prog="gearcheck",
        description="Conformance and load testing for Gearman job servers and client libraries.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__)
                   if not m.name.startswith("_"))
    for name in [only] if only in names else names:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("gearcheck: interrupted", file=sys.stderr)
        return EXIT_HARNESS


if __name__ == "__main__":
    sys.exit(main())
