"""Record Gearman traffic as a trace: through a recording proxy, or from a capture.

    gearcheck record --listen 127.0.0.1:4731 --upstream 127.0.0.1:4730 --out DIR
    gearcheck record --pcap FILE [--port N] --out DIR

The first puts a transparent recording proxy between an application and its
server (point the application at --listen); every byte passes unchanged. It
runs until Ctrl-C / SIGTERM or --duration and writes DIR/trace.jsonl, one JSON
line per packet, admin line or connection event. The second makes the same
trace from a tcpdump capture. The trace feeds gearcheck replay-profile and
gearcheck replay-case. Exit 0 recorded, 2 could not record.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ..progress import Progress
from ..record.proxy import ProxyStats, RecordingProxy, record_until_stopped
from ..wire import Address
from ._options import duration

EXIT_OK, EXIT_HARNESS = 0, 2
TRACE_NAME = "trace.jsonl"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("record", help="record Gearman traffic (proxy or pcap) as a trace",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="where the proxy listens (the application connects here)")
    p.add_argument("--upstream", metavar="HOST:PORT", help="the real Gearman server")
    p.add_argument("--pcap", metavar="FILE", help="make the trace from a tcpdump capture")
    p.add_argument("--port", type=int, action="append", default=None,
                   help="with --pcap: only connections with an end on this port (repeatable; "
                        "default: every TCP connection in the file)")
    p.add_argument("--out", required=True, metavar="DIR", help=f"writes DIR/{TRACE_NAME}")
    p.add_argument("--duration", type=duration, default=None, metavar="D",
                   help="with --listen: stop recording after this long, e.g. 30s, 2m "
                        "(default: until Ctrl-C or SIGTERM)")
    p.add_argument("--no-payloads", action="store_true",
                   help="keep only the length of each data argument, not its bytes")
    p.add_argument("--force", action="store_true", help="overwrite an existing trace")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gearcheck record: {message}", file=sys.stderr)
    return EXIT_HARNESS


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) / TRACE_NAME
    if out.exists() and not args.force:
        return _fail(f"{out} exists; choose another --out or pass --force")
    if args.pcap:
        if args.listen or args.upstream:
            return _fail("--pcap reads a capture; it does not take --listen/--upstream")
        return _from_pcap(args, out)
    if not args.listen or not args.upstream:
        return _fail("give --listen HOST:PORT and --upstream HOST:PORT (or --pcap FILE)")
    if args.port:
        return _fail("--port only applies to --pcap")
    try:
        listen = _listen_address(args.listen)
    except ValueError as exc:
        return _fail(f"--listen {args.listen!r}: {exc}")
    try:
        upstream = Address.parse(args.upstream)
    except ValueError as exc:
        return _fail(f"--upstream {args.upstream!r}: {exc}")
    return _proxy(listen, upstream, out, args)


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop when it is installed (a fifth of asyncio's cost per forwarded chunk)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _listen_address(text: str) -> Address:
    """HOST:PORT to listen on; port 0 takes any free port (the proxy prints which)."""
    host, sep, port = text.strip().rpartition(":")
    if sep and port == "0":
        return Address(host.strip("[]") or "127.0.0.1", 0)
    return Address.parse(text)


def _from_pcap(args: argparse.Namespace, out: Path) -> int:
    from scapy.error import Scapy_Exception

    from ..record.pcap import pcap_to_trace

    if not Path(args.pcap).is_file():
        return _fail(f"--pcap {args.pcap}: no such file")
    try:
        conns, packets, errors = pcap_to_trace(args.pcap, out, args.port,
                                               keep_payloads=not args.no_payloads)
    except (Scapy_Exception, OSError, EOFError) as exc:
        return _fail(f"cannot read {args.pcap} as a capture: {exc}")
    note = f", {errors} stream error(s) (see the trace's error records)" if errors else ""
    print(f"{out}: {conns} connection(s), {packets} packet(s) and admin line(s){note}")
    return EXIT_OK


def _proxy(listen: Address, upstream: Address, out: Path, args: argparse.Namespace) -> int:
    proxy = RecordingProxy(listen, upstream, out, keep_payloads=not args.no_payloads)
    started = time.monotonic()

    def describe(stats: ProxyStats) -> str:
        packets = proxy.recorder.packets if proxy.recorder else 0
        return (f"{stats.connections} connection(s) ({stats.open_connections} open), "
                f"{packets} packet(s), {stats.bytes_to_server + stats.bytes_to_client} bytes")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.duration:
            loop.call_later(args.duration, stop.set)

        async def announce() -> None:
            while proxy.address is None:
                await asyncio.sleep(0.01)
            print(f"recording {proxy.address} -> {upstream} into {out} (Ctrl-C to stop)",
                  file=sys.stderr, flush=True)

        announcer = asyncio.ensure_future(announce())
        # A bar on a terminal, a line every 10 s without one: packets recorded so far.
        with Progress(f"recording {listen} -> {upstream}", None, unit="packets") as progress:
            def report(_stats: ProxyStats) -> None:
                packets = proxy.recorder.packets if proxy.recorder else 0
                if packets > progress.done:
                    progress.advance(packets - progress.done)

            try:
                await record_until_stopped(proxy, stop, report)
            finally:
                announcer.cancel()

    try:
        _run_loop(main())
    except OSError as exc:
        return _fail(f"cannot listen on {listen}: {exc.strerror or exc}")
    print(f"{out}: {describe(proxy.stats)} in {time.monotonic() - started:.1f}s")
    return EXIT_OK
