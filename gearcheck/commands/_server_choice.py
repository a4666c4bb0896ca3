"""The ``--server | --target`` choice the hostile commands (fuzz, mutants) share.

Strategy: exactly one of the two is required. ``--server host:port`` is someone
else's running server and must be on loopback (``require_loopback`` refuses
anything else, naming the address); ``--target NAME`` is a server from the
registry (fixtures/servers.yaml, aliases too) started here, logging under the
run's folder, that the caller stops (a start that fails stops what it left
running before the error goes up). The leading underscore keeps
``gearcheck.cli`` from taking this for a command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..robustness.loopback import require_loopback
from ..targets import ProcessTarget, open_managed
from ..wire import Address


def add_server_choice(parser: argparse.ArgumentParser, *, server_help: str) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help=server_help)
    where.add_argument("--target", metavar="NAME",
                       help="start this registered server here (fixtures/servers.yaml)")


def open_server(args: argparse.Namespace, *, tool: str,
                log_dir: Path) -> tuple[Address, ProcessTarget | None]:
    """(the --server address, None) or (its address, the --target server, started).

    Raises NotLoopbackError for a --server off this machine, ValueError for a
    malformed one, TargetError when the --target server is unknown or cannot start."""
    if args.server:
        return require_loopback(args.server, tool=tool), None
    target = open_managed(args.target, log_dir=log_dir)
    try:
        target.start()
    except BaseException:
        target.stop()  # whatever a failed start left running
        raise
    return target.address, target
