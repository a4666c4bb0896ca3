"""What a system under test looks like to the harness.

Strategy: a ``Target`` has a name, an address once started, and ``start`` /
``stop``; it is a context manager so whatever starts a server always stops it.
``ProcessTarget`` is the shared shape for servers the harness runs as child
processes: pick a free loopback port, launch with a log file, poll with ECHO
(or an admin command for servers without ECHO) until it answers or the
deadline passes, and on stop send SIGTERM, then SIGKILL after a grace period.
A server that dies during start-up is reported with the tail of its log.

TLS: a process target created with ``tls="server"`` (TLS, no client
certificate) or ``tls="mutual"`` (a client certificate signed by the test CA is
required) is started with the machine's shared test certificates
(gearcheck.testcerts) through its class's ``tls_arguments``; ``client_tls`` is
then how to reach it, and the readiness probe goes through TLS too. A class
that knows no TLS flags raises ``ConfigUnsupported``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..testcerts import CertificateSet, shared_certificates
from ..wire import Address, Connection, TLSClient, WireError, use_tls_for
from ._errors import ConfigUnsupported, TargetError
from ._ports import free_port
from ._process_group import ChildServer, rss_of
from .configs import ServerConfig

if TYPE_CHECKING:
    from ._database import DatabaseServer


class Target(ABC):
    name: str = "target"

    @property
    @abstractmethod
    def address(self) -> Address: ...

    def start(self) -> Target:
        return self

    def stop(self) -> None:
        return None

    @property
    def managed(self) -> bool:
        """True when the harness starts and stops this server itself."""
        return False

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def client_tls(self) -> TLSClient | None:
        """How to reach this server over TLS, or None when it speaks plaintext."""
        return None

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "address": str(self.address), "managed": self.managed}

    def apply_config(self, config: ServerConfig, state_dir: Path) -> None:
        """Make this not-yet-started target run with ``config`` (gearcheck.targets.configs).

        The base knows no flags, so it accepts only the defaults; targets that
        can do more override it. ``state_dir`` is where files such as a
        persistent queue go. Raises ``ConfigUnsupported`` with the reason.
        """
        if not config.flags_default:
            raise ConfigUnsupported(f"{self.name}: the harness knows no way to start this "
                                    f"implementation with {config.describe()}")


class ExternalTarget(Target):
    """A server someone else runs at host:port: never started or stopped by us."""

    def __init__(self, address: Address | str, name: str | None = None) -> None:
        self._address = Address.parse(address) if isinstance(address, str) else address
        self.name = name or str(self._address)

    @property
    def address(self) -> Address:
        return self._address

    def start(self) -> ExternalTarget:
        wait_until_answers(self._address, deadline_s=5.0, what=f"server at {self._address}")
        return self


def wait_until_answers(address: Address, *, deadline_s: float, what: str,
                       process: subprocess.Popen[bytes] | None = None,
                       log_path: Path | None = None, probe: str = "echo",
                       tls: TLSClient | Literal["default"] | None = "default") -> None:
    """Poll until the server at ``address`` answers ECHO (or an admin ``probe``)."""
    deadline = time.monotonic() + deadline_s
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TargetError(f"{what} exited with code {process.returncode} during start-up"
                              + _log_tail(log_path))
        try:
            with Connection.open(address, timeout=1.0, tls=tls) as conn:
                if probe == "echo":
                    conn.echo(b"gearcheck-ready", timeout=1.0)
                else:
                    conn.admin(probe, timeout=1.0)
                return
        except (OSError, WireError) as exc:
            last_error = str(exc)
        time.sleep(0.05)
    raise TargetError(f"{what} did not answer within {deadline_s:.0f}s ({last_error})"
                      + _log_tail(log_path))


def _log_tail(log_path: Path | None, lines: int = 15) -> str:
    if log_path is None or not log_path.exists():
        return ""
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- last lines of " + str(log_path) + " ---\n" + "\n".join(tail)


class ProcessTarget(ChildServer, Target):
    """A server the harness starts as a child process on a free loopback port."""

    start_deadline_s = 15.0
    stop_grace_s = 5.0
    probe = "echo"
    start_attempts = 3

    TLS_MODES = ("server", "mutual")

    def __init__(self, *, name: str | None = None, log_dir: Path | str | None = None,
                 port: int | None = None, host: str = "127.0.0.1",
                 tls: str | None = None) -> None:
        if name:
            self.name = name
        if tls is not None and tls not in self.TLS_MODES:
            raise TargetError(f"{self.name}: tls must be one of {', '.join(self.TLS_MODES)}, "
                              f"not {tls!r}")
        self.tls = tls
        self.host = host
        self.requested_port = port
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="gearcheck-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._address: Address | None = None
        self.log_path: Path | None = None

    @abstractmethod
    def command(self, port: int) -> list[str]:
        """The argv that starts the server on ``port``, listening on loopback."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def tls_arguments(self, certs: CertificateSet, *, mutual: bool) -> list[str]:
        """The extra argv that makes the server speak TLS with these files."""
        raise ConfigUnsupported(f"{self.name}: the harness knows no way to start this "
                                "implementation with TLS")

    @property
    def client_tls(self) -> TLSClient | None:
        if self.tls is None:
            return None
        certs = shared_certificates()
        if self.tls == "mutual":
            return TLSClient(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
        return TLSClient(ca=certs.ca)

    def _argv(self, port: int) -> list[str]:
        argv = self.command(port)
        if self.tls is not None:
            argv += self.tls_arguments(shared_certificates(), mutual=self.tls == "mutual")
        return argv

    @property
    def managed(self) -> bool:
        return True

    @property
    def address(self) -> Address:
        if self._address is None:
            raise TargetError(f"{self.name} is not started")
        return self._address

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def queue_backend(self) -> str | None:
        """The persistent queue's back end (gearcheck.targets.configs.QUEUE_BACKENDS), or None."""
        return None

    @property
    def queue_store(self) -> DatabaseServer | None:
        """The database server this target started for its queue, if any (to hurt it)."""
        return None

    def start(self) -> ProcessTarget:
        if self.process is not None and self.process.poll() is None:
            return self
        self.log_dir.mkdir(parents=True, exist_ok=True)
        error: TargetError | None = None
        for _attempt in range(self.start_attempts):
            port = self.requested_port or free_port(self.host)
            self.log_path = self.log_dir / f"{self.name}-{port}.log"
            argv = self._argv(port)
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=self.environment(), start_new_session=True)
            self._address = Address(self.host, port)
            try:
                wait_until_answers(self._address, deadline_s=self.start_deadline_s,
                                   what=f"{self.name} ({' '.join(argv)})", process=self.process,
                                   log_path=self.log_path, probe=self.probe,
                                   tls=self.client_tls)
                use_tls_for(self._address, self.client_tls)
                return self
            except TargetError as exc:
                error = exc
                self.terminate()
                if self.requested_port:
                    break
            except BaseException:  # Ctrl-C, a bug: the child must not outlive the harness
                self.terminate()
                raise
        assert error is not None
        raise error

    def stop(self) -> None:
        """SIGTERM (SIGKILL after the grace period). Subclasses that start helpers
        (a queue's database server) stop those here too; ``restart`` never does."""
        self.terminate()
        if self._address is not None:
            use_tls_for(self._address, None)

    def restart(self, *, hard: bool = False) -> None:
        """Stop (SIGTERM, or kill -9 when ``hard``) and start again on the same port."""
        port = self._address.port if self._address else self.requested_port
        if hard:
            self.kill()
        else:
            self.terminate()
        saved, self.requested_port = self.requested_port, port
        try:
            self.start()
        finally:
            self.requested_port = saved

    def rss_bytes(self) -> int | None:
        """Resident memory of the server process (Linux /proc), None when it is not running."""
        if not self.alive() or self.process is None:
            return None
        return rss_of(self.process.pid)

    def describe(self) -> dict[str, object]:
        info = super().describe() if self._address else {"name": self.name, "managed": True}
        info["log"] = str(self.log_path) if self.log_path else None
        if self.tls:
            info["tls"] = self.tls
        return info

