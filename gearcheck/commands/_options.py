"""The options every gearcheck command spells the same way, and the parser that reports errors.

Strategy: one argparse ``type`` per kind of value (a server, a duration, a
count, a file) raises ``argparse.ArgumentTypeError`` with what was given and
what is expected, and ``CommandParser.error`` prints that as one line naming
the command and the option, then exits 2, the code for "the harness could not
run". Commands add the shared options through the ``add_*`` helpers so one
idea has one name everywhere (docs/cli.md lists them). The leading underscore
keeps ``gearcheck.cli`` from taking this module for a command.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NoReturn

from ..swarm.capacity import Slo, parse_slo
from ..swarm.units import parse_duration
from ..targets import RegistryError, find, is_address, load_registry
from ..wire import Address, TLSClient, TLSSetupError

EXIT_HARNESS = 2


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_HARNESS)


def server(text: str) -> str:
    """A registered server name or alias, or HOST:PORT; checked, returned as given."""
    if is_address(text):
        try:
            Address.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    try:
        find(load_registry(), text)
    except RegistryError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; or give HOST:PORT") from None
    return text


def duration(text: str) -> float:
    """Positive seconds from '30', '30s', '500ms', '2m'."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration")
    return seconds


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def count(text: str) -> int:
    """A whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above zero")
    return value


def growth(text: str) -> float:
    """A factor above 1 (a rate that grows)."""
    value = positive_number(text)
    if value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the rate must grow (a factor above 1)")
    return value


def slo(text: str) -> Slo:
    """A latency target: 'result p99 < 10ms'."""
    try:
        return parse_slo(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def existing_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return path


def add_server(parser: argparse.ArgumentParser, *, required: bool = False,
               default_help: str = "default: the reference server, started here") -> None:
    parser.add_argument(
        "--server", type=server, required=required, metavar="NAME|HOST:PORT",
        help="a registered server (fixtures/servers.yaml; started and stopped here) or "
             f"HOST:PORT of a running one{'' if required else '; ' + default_help}")


def add_out(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help=f"folder for this run's output (default reports/{command}/<time>)")


def out_dir(args: argparse.Namespace, command: str, suffix: str = "") -> Path:
    """``--out``, else reports/<command>/<time><suffix>."""
    out: Path | None = args.out
    return out or Path("reports") / command / (time.strftime("%Y%m%d-%H%M%S") + suffix)


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=count, default=0, metavar="N",
                        help="seed of every random choice; the same seed repeats a run "
                             "(default 0)")


def add_processes(parser: argparse.ArgumentParser, what: str, default: int = 0) -> None:
    parser.add_argument("--processes", "-n", type=count, default=default, metavar="N",
                        help=f"{what} (default {default})")


def add_jobs(parser: argparse.ArgumentParser, what: str, default: int,
             default_text: str | None = None) -> None:
    """--jobs; with ``default_text`` the option's default is None (the command decides)."""
    parser.add_argument("--jobs", "-j", type=positive_int,
                        default=None if default_text else default, metavar="N",
                        help=f"{what} at once, in this process "
                             f"(default {default_text or default})")


def add_tls(p: argparse.ArgumentParser) -> None:
    """--tls, --tls-ca, --tls-cert, --tls-key: reach a HOST:PORT server over TLS."""
    p.add_argument("--tls", action="store_true", help="reach the server over TLS")
    p.add_argument("--tls-ca", type=existing_file, metavar="PEM",
                   help="with --tls: the CA that signed the server's certificate "
                        "(default: the system's trust store)")
    p.add_argument("--tls-cert", type=existing_file, metavar="PEM",
                   help="with --tls: a client certificate, for servers that require one "
                        "(the TLS client-certificate cases then run)")
    p.add_argument("--tls-key", type=existing_file, metavar="PEM",
                   help="with --tls-cert: its private key (when not in the same file)")


def tls_from(args: argparse.Namespace) -> TLSClient | None:
    """The TLS settings the options give; ``ValueError`` names the option that is wrong."""
    files = {"ca": args.tls_ca, "cert": args.tls_cert, "key": args.tls_key}
    if not args.tls:
        given = [f"--tls-{k}" for k, v in files.items() if v]
        if given:
            raise ValueError(f"{', '.join(given)} need(s) --tls")
        return None
    tls = TLSClient(ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key)
    try:
        tls.context()  # loads the files once: a bad one fails here, with its name
    except TLSSetupError as exc:
        raise ValueError(str(exc)) from None
    return tls
