"""Run PyPI gear's job server (``gear.Server``) in its own process.

Usage: ``python -m gearcheck.targets._gear_launcher --host 127.0.0.1 --port N``
(``--ssl-cert --ssl-key --ssl-ca`` for gear's TLS).
gear.Server starts daemon threads and returns; this launcher keeps the process
alive until SIGTERM or SIGINT, then lets the daemon threads die with it. Kept
tiny and separate so the harness never imports gear into its own process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--ssl-cert", help="TLS certificate (with --ssl-key and --ssl-ca: "
                        "gear.Server then requires client certificates)")
    parser.add_argument("--ssl-key")
    parser.add_argument("--ssl-ca")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import gear  # imported here so a missing package is a clear error below

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = gear.Server(port=args.port, host=args.host, ssl_key=args.ssl_key,
                         ssl_cert=args.ssl_cert, ssl_ca=args.ssl_ca)
    print(f"gear.Server {getattr(gear, '__version__', '')} listening on "
          f"{args.host}:{server.port}", file=sys.stderr, flush=True)
    while not stop.wait(1.0):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
