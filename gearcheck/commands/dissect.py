"""Print a capture file (pcap or pcapng) as a readable Gearman conversation.

One line per packet or admin line, in capture order: seconds since the first
one, the connection with an arrow for the direction (client > server is a
request), then the magic, the type and the named arguments. Stream errors
(bytes that cannot be framed, holes in the capture) are printed where they
happen, prefixed with "!". TCP is reassembled; any port can be Gearman's.
"""

from __future__ import annotations

import argparse
import sys

from scapy.error import Scapy_Exception

from ..protocol.capture import Dissection, dissect_capture
from ..protocol.scapy_layer import summarize
from ._options import existing_file, positive_int


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dissect", help="print the Gearman conversation in a pcap file",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pcap", type=existing_file, help="capture file (pcap or pcapng)")
    p.add_argument("--port", type=positive_int, action="append", default=None,
                   help="only connections with an end on this port (repeatable; "
                        "default: every TCP connection in the file)")
    p.add_argument("--full", action="store_true", help="print arguments without shortening")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        dissection = dissect_capture(args.pcap, args.port)
    except FileNotFoundError:
        print(f"gearcheck dissect: no such file: {args.pcap}", file=sys.stderr)
        return 2
    except (Scapy_Exception, OSError, EOFError) as exc:
        print(f"gearcheck dissect: cannot read {args.pcap} as a capture: {exc}", file=sys.stderr)
        return 2
    for line in format_dissection(dissection, full=args.full):
        print(line)
    return 0


def format_dissection(dissection: Dissection, *, full: bool = False) -> list[str]:
    """The printed lines (errors sorted in by time, after the packets of that instant)."""
    rows: list[tuple[float, int, str]] = []
    start = min((float(p.packet.time) for p in dissection.packets), default=0.0)
    for item in dissection.packets:
        t = float(item.packet.time)
        rows.append((t, 0, f"{t - start:10.6f}  {item.flow.arrow(item.direction)}  "
                           f"{summarize(item.packet, full=full)}"))
    for err in dissection.errors:
        t = err.time if err.time is not None else start
        rows.append((t, 1, f"{t - start:10.6f}  {err.flow.arrow(err.direction)}  "
                           f"! at stream offset {err.offset}: {err.message}"))
    rows.sort(key=lambda row: (row[0], row[1]))
    if not rows:
        return ["(no Gearman traffic in this capture)"]
    return [row[2] for row in rows]
