"""Check that a Gearman server is there and what it is: ECHO round trip, version, functions.

One connection: an ECHO round trip (its time in microseconds), then the admin
"version" and "status" (how many functions it knows); a server that answers
ECHO but not the admin protocol is still reported, with why. --server NAME
starts a registered server for the probe and stops it. Prints JSON; exit 0
when ECHO answered, 2 when the address is bad or nothing answers.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..protocol import AdminReplyError, parse_status, parse_version
from ..targets import TargetError, open_target
from ..wire import Connection, WireError
from ._options import add_server, positive_seconds


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("probe", help="check that a server answers ECHO and admin commands",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server(p, required=True)
    p.add_argument("--timeout", type=positive_seconds, default=3.0, metavar="S",
                   help="seconds each answer may take (default 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        with open_target(args.server) as target:
            address = target.address
            info: dict[str, object] = {"server": str(address)}
            with Connection.open(address, timeout=args.timeout) as conn:
                info["echo_rtt_us"] = round(conn.echo() * 1e6, 1)
                try:
                    info["version"] = parse_version(conn.admin("version"))
                    info["functions"] = len(parse_status(conn.admin("status")))
                except (AdminReplyError, WireError) as exc:
                    info["admin"] = f"not answered: {exc}"
    except (OSError, WireError, TargetError) as exc:
        print(f"gearcheck probe: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=2))
    return 0
