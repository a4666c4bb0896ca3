"""The server a hostile command (fuzz, mutants) works on: someone's, on loopback, or one of ours.

Strategy: ``--server`` is required. A registered name or alias is started here,
logging under the run's folder, and the caller stops it (a start that fails
stops what it left running before the error goes up); gearcheck can then
restart it after a crash and read its /proc entry. HOST:PORT is someone else's
running server and must be on loopback (``require_loopback`` refuses anything
else, naming the address). The leading underscore keeps ``gearcheck.cli`` from
taking this for a command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..robustness.loopback import require_loopback
from ..targets import ProcessTarget, is_address, open_managed
from ..wire import Address
from ._options import add_server


def add_server_choice(parser: argparse.ArgumentParser) -> None:
    add_server(parser, required=True)


def open_server(args: argparse.Namespace, *, tool: str,
                log_dir: Path) -> tuple[Address, ProcessTarget | None]:
    """(the --server address, None) or (its address, the server started here).

    Raises NotLoopbackError for a HOST:PORT off this machine, TargetError when
    the registered server cannot start."""
    if is_address(args.server):
        return require_loopback(args.server, tool=tool), None
    target = open_managed(args.server, log_dir=log_dir)
    try:
        target.start()
    except BaseException:
        target.stop()  # whatever a failed start left running
        raise
    return target.address, target
