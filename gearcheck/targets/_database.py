"""A database server the harness runs for a persistent queue: started, hurt, stopped.

Strategy: each server (MariaDB, PostgreSQL, Redis, memcached: one module
each) is a child process in its own process group, listening only on a free
loopback port, with its data in a fresh temporary directory that is removed
when it stops. Where the server refuses to run as root (PostgreSQL, MariaDB,
memcached) and the harness is root, it runs as the account its Debian
package created (``postgres``, ``mysql``, ``memcache``), which owns the
data directory; otherwise as whoever runs the harness. Readiness is the
server's own ping (``answers``), polled until a deadline; a server that dies
while starting is reported with the tail of its log.

The chaos tools need more than start and stop, so a database server also
has ``kill`` (kill -9), ``pause`` / ``resume`` (SIGSTOP / SIGCONT) and
``restart`` (graceful or after a kill, same port, same data).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path

from ._errors import TargetError
from ._ports import free_port
from ._process_group import ChildServer, rss_of


class DatabaseServer(ChildServer, ABC):
    kind: str = "database"          # short name: mariadb, postgres, redis, memcached
    title: str = ""
    account: str = ""               # the package's system user, used when we are root
    start_deadline_s = 30.0
    stop_grace_s = 10.0

    def __init__(self, *, log_dir: Path | str | None = None, port: int | None = None,
                 host: str = "127.0.0.1") -> None:
        self.host = host
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="gearcheck-"))
        self.port = port or 0
        self.process: subprocess.Popen[bytes] | None = None
        self.data_root: Path | None = None
        self.log_path: Path | None = None
        self.starts = 0

    # -- what each server says ---------------------------------------------------
    @abstractmethod
    def command(self) -> list[str]:
        """argv that runs the server in the foreground on ``self.port`` with ``self.data_dir``."""

    @abstractmethod
    def answers(self) -> bool:
        """One quick readiness probe (bounded by a short timeout)."""

    def initialise(self) -> None:
        """Create the server's files in the new, empty ``data_dir`` (before the first start)."""

    def after_first_start(self) -> None:
        """Create what the queue needs inside the running server (a database, say)."""

    def version(self) -> str:
        return ""

    # -- lifecycle ---------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        if self.data_root is None:
            raise TargetError(f"{self.kind} has no data directory before it starts")
        return self.data_root / "data"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def user(self) -> str | None:
        """The account the server runs as, or None for the harness's own."""
        return self.account if os.geteuid() == 0 and self.account else None

    def run_as_user(self, argv: list[str], *, timeout: float = 60.0) -> str:
        """Run a helper (initdb, a client) as the server's account; its output, or TargetError."""
        user = self.user()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  user=user, group=self._group(user),
                                  extra_groups=[] if user else None, cwd=self.data_root)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetError(f"{self.kind}: {' '.join(argv)} failed: {exc}") from exc
        if done.returncode != 0:
            raise TargetError(f"{self.kind}: {' '.join(argv)} exited {done.returncode}: "
                              f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    @staticmethod
    def _group(user: str | None) -> int | None:
        return pwd.getpwnam(user).pw_gid if user else None

    def _make_data_root(self) -> None:
        root = Path(tempfile.mkdtemp(prefix=f"gearcheck-{self.kind}-"))
        user = self.user()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        self.data_root = root
        self.initialise()

    def start(self) -> DatabaseServer:
        if self.alive():
            return self
        if self.data_root is None:
            self._make_data_root()
        if not self.port:
            self.port = free_port(self.host)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"{self.kind}-{self.port}.log"
        argv = self.command()
        user = self.user()
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, cwd=self.data_root, user=user,
                    group=self._group(user), extra_groups=[] if user else None)
            except OSError as exc:
                raise TargetError(f"{self.kind}: cannot run {argv[0]}: {exc}; run "
                                  "scripts/install-system-deps.sh") from exc
        self._wait_ready(argv)
        self.starts += 1
        if self.starts == 1:
            self.after_first_start()
        return self

    def _wait_ready(self, argv: list[str]) -> None:
        deadline = time.monotonic() + self.start_deadline_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = self.process.returncode if self.process else None
                self.process = None
                raise TargetError(f"{self.kind} ({' '.join(argv)}) exited with code {code} "
                                  f"while starting{self._log_tail()}")
            if self.answers():
                return
            time.sleep(0.05)
        self.terminate()
        raise TargetError(f"{self.kind} did not answer on {self.address} within "
                          f"{self.start_deadline_s:.0f}s{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {self.log_path} ---\n" + "\n".join(tail)

    def restart(self, *, hard: bool = False) -> None:
        """Stop (graceful, or kill -9 when ``hard``) and start again: same port, same data."""
        if hard:
            self.kill()
        else:
            self.terminate()
        self.start()

    def stop(self) -> None:
        """Stop for good: the process, then its data directory."""
        self.terminate()
        root, self.data_root = self.data_root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def rss_bytes(self) -> int | None:
        return rss_of(self.process.pid) if self.alive() and self.process else None

    def __enter__(self) -> DatabaseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "title": self.title, "address": self.address,
                "version": self.version(), "user": self.user() or "(harness)",
                "log": str(self.log_path) if self.log_path else None}


def exchange(host: str, port: int, request: bytes, *, timeout: float = 1.0,
             want: int = 64) -> bytes:
    """Send ``request`` (maybe empty) and return the first bytes of the reply; b'' on failure."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if request:
                sock.sendall(request)
            return sock.recv(want)
    except OSError:
        return b""
