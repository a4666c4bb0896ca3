"""Settings of one reference-server process, and the command-line options that set them.

Strategy: every tunable lives in one frozen ``RefServerOptions``; the lifecycle
module builds the server from it and nothing reads options anywhere else.
``add_arguments`` declares the options once, so ``gearcheck serve`` and
``python -m gearcheck.refserver`` accept exactly the same flags, and
``config_from_args`` turns parsed options into a config, rejecting bad values
with a message that names the option.

TLS: ``--tls-cert`` with ``--tls-key`` makes the server speak TLS only (a
plaintext client fails its handshake); ``--tls-client-ca`` also requires every
client to present a certificate signed by that CA.

Defaults are the safe ones: loopback only, a 64 MiB packet cap (refused from
the header, before any payload is buffered), bounded connections and queued
jobs, and the admin ``shutdown`` command enabled (``--no-admin-shutdown``
turns it into an unknown command, as in gearmand >= 1.1.15).
"""

from __future__ import annotations

import argparse
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from ..protocol import DEFAULT_MAX_PAYLOAD

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4730
DEFAULT_MAX_CONNECTIONS = 10_000
DEFAULT_MAX_QUEUED_JOBS = 10_000_000
DEFAULT_MAX_LINE = 64 * 1024
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class RefServerOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    queue_path: Path | None = None          # SQLite file for background jobs; None = memory only
    queue_sync: str = "normal"              # SQLite synchronous= (normal survives kill -9)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_packet: int = DEFAULT_MAX_PAYLOAD   # largest payload accepted, in bytes
    max_line: int = DEFAULT_MAX_LINE        # longest admin text line
    max_queued_jobs: int = DEFAULT_MAX_QUEUED_JOBS
    job_retries: int = 0                    # 0 = requeue forever (gearmand 1.1.x default)
    exceptions: bool = False                # WORK_EXCEPTION to all clients (--exceptions)
    allow_shutdown: bool = True             # admin "shutdown" / "shutdown graceful"
    handle_prefix: str = ""                 # "" = "H:<hostname>"
    log_level: str = "warning"
    tls_cert: Path | None = None            # PEM certificate (chain): TLS only when set
    tls_key: Path | None = None
    tls_client_ca: Path | None = None       # require client certificates signed by this CA
    drop_on_restore: int = 0                # planted defect: lose the Nth-from-last restored job

    @property
    def effective_handle_prefix(self) -> bytes:
        prefix = self.handle_prefix or f"H:{socket.gethostname().split('.')[0][:32]}"
        return prefix.encode("utf-8") + b":"

    @property
    def logging_level(self) -> int:
        return int(getattr(logging, self.log_level.upper()))


def parse_queue(spec: str) -> Path:
    """``sqlite:PATH`` to a path; anything else is refused with the accepted form."""
    kind, sep, path = spec.partition(":")
    if not sep or kind != "sqlite" or not path:
        raise ValueError(f"--queue {spec!r}: expected sqlite:PATH (e.g. sqlite:/var/lib/q.db)")
    return Path(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}, loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one and prints it)")
    parser.add_argument("--queue", metavar="sqlite:PATH",
                        help="keep background jobs in this SQLite file (WAL) across restarts")
    parser.add_argument("--queue-sync", choices=("normal", "full"), default="normal",
                        help="SQLite synchronous mode: normal survives a killed process, "
                             "full also survives power loss (slower)")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        help="connections held at once; more are refused "
                             f"(default {DEFAULT_MAX_CONNECTIONS})")
    parser.add_argument("--max-packet", type=int, default=DEFAULT_MAX_PAYLOAD,
                        help="largest packet payload in bytes (default 64 MiB)")
    parser.add_argument("--max-line", type=int, default=DEFAULT_MAX_LINE,
                        help="longest admin text line in bytes")
    parser.add_argument("--max-queued-jobs", type=int, default=DEFAULT_MAX_QUEUED_JOBS,
                        help="jobs held at once across all functions")
    parser.add_argument("--job-retries", type=int, default=0,
                        help="fail a job after this many worker losses (0 = never)")
    parser.add_argument("--exceptions", action="store_true",
                        help="send WORK_EXCEPTION to every client (as gearmand --exceptions)")
    parser.add_argument("--no-admin-shutdown", action="store_true",
                        help="make the admin 'shutdown' command unknown")
    parser.add_argument("--job-handle-prefix", default="",
                        help="replaces H:<hostname> in job handles")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning",
                        help="what the server logs to stderr (default warning)")
    parser.add_argument("--tls-cert", metavar="PEM", type=Path,
                        help="speak TLS only, with this certificate (needs --tls-key)")
    parser.add_argument("--tls-key", metavar="PEM", type=Path,
                        help="the private key of --tls-cert")
    parser.add_argument("--tls-client-ca", metavar="PEM", type=Path,
                        help="with --tls-cert: require a client certificate signed by this CA")
    # A planted defect for testing durability checkers (gearcheck chaos's own tests): the
    # Nth-from-last job restored from the queue file (1: the last, the lowest priority and
    # newest, so the least likely to have run) is dropped. Never useful otherwise: hidden.
    parser.add_argument("--drop-on-restore", type=int, default=0, help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> RefServerOptions:
    def positive(name: str, value: int, minimum: int = 1) -> int:
        if value < minimum:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")
        return value

    if not 0 <= args.port < 65536:
        raise ValueError(f"--port must be 0..65535, got {args.port}")
    prefix = args.job_handle_prefix
    if len(prefix.encode()) > 40:
        raise ValueError("--job-handle-prefix must be at most 40 bytes (handles stay < 64)")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.tls_client_ca is not None and args.tls_cert is None:
        raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key),
                         ("--tls-client-ca", args.tls_client_ca)):
        if path is not None and not path.is_file():
            raise ValueError(f"{option} {path}: no such file")
    return RefServerOptions(
        tls_cert=args.tls_cert, tls_key=args.tls_key, tls_client_ca=args.tls_client_ca,
        host=args.host, port=args.port,
        queue_path=parse_queue(args.queue) if args.queue else None,
        queue_sync=args.queue_sync,
        max_connections=positive("max_connections", args.max_connections),
        max_packet=positive("max_packet", args.max_packet, 1024),
        max_line=positive("max_line", args.max_line, 256),
        max_queued_jobs=positive("max_queued_jobs", args.max_queued_jobs),
        job_retries=positive("job_retries", args.job_retries, 0),
        exceptions=args.exceptions, allow_shutdown=not args.no_admin_shutdown,
        handle_prefix=prefix, log_level=args.log_level,
        drop_on_restore=positive("drop_on_restore", args.drop_on_restore, 0),
    )
