"""``gearcheck probe HOST:PORT``: is a Gearman server there, and what is it?

One connection: an ECHO round trip (its time in microseconds), then the admin
``version`` and ``status`` (how many functions it knows); a server that
answers ECHO but not the admin protocol is still reported, with why. Prints
JSON; exit 0 when ECHO answered, 2 when the address is bad or nothing answers.
"""

from __future__ import annotations

import argparse
import json

from ..protocol import AdminReplyError, parse_status, parse_version
from ..wire import Address, Connection, WireError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("probe", help="check that a server answers ECHO and admin commands")
    p.add_argument("server", help="host:port")
    p.add_argument("--timeout", type=float, default=3.0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        address = Address.parse(args.server)
    except ValueError as exc:
        print(f"gearcheck probe: {exc}")
        return 2
    info: dict[str, object] = {"server": str(address)}
    try:
        with Connection.open(address, timeout=args.timeout) as conn:
            info["echo_rtt_us"] = round(conn.echo() * 1e6, 1)
            try:
                info["version"] = parse_version(conn.admin("version"))
                info["functions"] = len(parse_status(conn.admin("status")))
            except (AdminReplyError, WireError) as exc:
                info["admin"] = f"not answered: {exc}"
    except (OSError, WireError) as exc:
        print(f"gearcheck probe: {exc}")
        return 2
    print(json.dumps(info, indent=2))
    return 0
