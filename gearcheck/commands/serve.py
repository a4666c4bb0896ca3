"""Run gearcheck's reference Gearman job server in the foreground, on loopback by default."""

from __future__ import annotations

import argparse

from ..refserver import add_arguments, config_from_args, run


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the reference Gearman job server",
                       description=__doc__.strip() + " It prints the address it listens on "
                                   "and stops on SIGTERM/SIGINT.")
    add_arguments(p)
    p.set_defaults(func=_run, _parser=p)


def _run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        args._parser.error(str(exc))
    return run(config)
