"""The ``gearcheck`` command.

Each subcommand lives in its own module under ``gearcheck/commands`` and
exposes ``register(subparsers)``, which adds its parser and sets ``func``;
this file only discovers them. Exit codes are the CI interface: 0 compliant,
1 a check failed, 2 the harness could not run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gearcheck",
        description="Conformance and load testing for Gearman job servers and client libraries.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("gearcheck: interrupted", file=sys.stderr)
        return EXIT_HARNESS


if __name__ == "__main__":
    sys.exit(main())
