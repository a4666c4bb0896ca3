"""The C gearmand (Debian's gearman-job-server, /usr/sbin/gearmand).

Started on loopback only (gearmand's own default is every interface), with
its log and pid file in the target's log directory and everything else at
gearmand's defaults unless told otherwise: ``threads`` (--threads N) and
``queue``, the persistent-queue back end. ``builtin`` is gearmand's memory-
only default; ``sqlite`` is a file in the state directory; ``mysql``,
``postgres``, ``redis`` and ``memcached`` each get their database server
(gearcheck.targets.queue_stores), started before gearmand on its own free
loopback port and stopped after it. ``restart`` and ``kill`` touch gearmand
alone, so a restarted gearmand replays from the same database;
``queue_store`` is that database server, for tools that hurt it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ._base import ProcessTarget
from ._database import DatabaseServer
from ._errors import TargetError
from .configs import QUEUE_BACKENDS
from .postgres import PostgresServer
from .queue_stores import open_store

if TYPE_CHECKING:
    from .configs import ServerConfig

GEARMAND_PATH = "/usr/sbin/gearmand"
QUEUES = ("builtin", *QUEUE_BACKENDS)


def gearmand_binary() -> str:
    path = Path(GEARMAND_PATH)
    if path.exists():
        return str(path)
    # PATH may hold the Perl server's /usr/bin/gearmand: only accept the C one.
    found = shutil.which("gearmand")
    if found and "sbin" in found:
        return found
    raise TargetError(f"the C gearmand is not installed at {GEARMAND_PATH}; "
                      "run scripts/install-system-deps.sh (Debian package gearman-job-server)")


class GearmandTarget(ProcessTarget):
    name = "gearmand"

    def __init__(self, *, extra_args: list[str] | None = None, verbose: str = "INFO",
                 queue: str = "builtin", threads: int | None = None,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if queue not in QUEUES:
            raise TargetError(f"{self.name}: unknown queue {queue!r}; gearmand's are "
                              f"{', '.join(QUEUES)}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 0):
            raise TargetError(f"{self.name}: threads must be a whole number >= 0, "
                              f"got {threads!r}")
        self.extra_args = list(extra_args or [])
        self.verbose = verbose
        self.queue = queue
        self.threads = threads
        self.state_dir: Path | None = None
        self._store: DatabaseServer | None = None

    @property
    def queue_backend(self) -> str | None:
        return None if self.queue == "builtin" else self.queue

    @property
    def queue_store(self) -> DatabaseServer | None:
        return self._store

    @property
    def queue_file(self) -> Path:
        return (self.state_dir or self.log_dir) / "gearmand-queue.sqlite"

    def command(self, port: int) -> list[str]:
        assert self.log_path is not None
        threads = [f"--threads={self.threads}"] if self.threads is not None else []
        return [
            gearmand_binary(),
            "--listen=127.0.0.1", f"--port={port}",
            f"--log-file={self.log_path}", f"--verbose={self.verbose}",
            f"--pid-file={self.log_dir / f'gearmand-{port}.pid'}",
            *threads, *self._queue_args(), *self.extra_args,
        ]

    def _queue_args(self) -> list[str]:
        store = self._store
        if self.queue == "builtin":
            return []
        if self.queue == "sqlite":
            self.queue_file.parent.mkdir(parents=True, exist_ok=True)
            return ["--queue-type=libsqlite3", f"--libsqlite3-db={self.queue_file}"]
        assert store is not None, "the database server starts before gearmand"
        if self.queue == "mysql":
            return ["--queue-type=MySQL", "--mysql-host=127.0.0.1", f"--mysql-port={store.port}",
                    "--mysql-user=root", "--mysql-db=gearman"]
        if self.queue == "postgres":
            assert isinstance(store, PostgresServer)
            return ["--queue-type=Postgres", f"--libpq-conninfo={store.conninfo()}"]
        if self.queue == "redis":
            return ["--queue-type=redis", "--redis-server=127.0.0.1", f"--redis-port={store.port}"]
        return ["--queue-type=libmemcached", f"--libmemcached-servers=127.0.0.1:{store.port}"]

    def start(self) -> GearmandTarget:
        if self.alive():
            return self
        if self._store is None:
            self._store = open_store(self.queue, log_dir=self.state_dir or self.log_dir)
        if self._store is not None and self._store.starts == 0:
            # only the first start: a database a fault took down stays down until healed
            self._store.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        store, self._store = self._store, None
        if store is not None:
            store.stop()

    def apply_config(self, config: ServerConfig, state_dir: Path) -> None:
        """gearmand's flags: --exceptions, --job-retries=N, a persistent queue back end."""
        if config.exceptions:
            self.extra_args.append("--exceptions")
        if config.job_retries is not None:
            self.extra_args.append(f"--job-retries={config.job_retries}")
        if config.persistent_queue:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.state_dir = state_dir
            self.queue = config.queue_backend or "sqlite"

    def describe(self) -> dict[str, object]:
        info = super().describe()
        info["queue"] = self.queue
        if self.threads is not None:
            info["threads"] = self.threads
        if self._store is not None:
            info["queue_store"] = self._store.describe()
        return info

    @staticmethod
    def version() -> str:
        out = subprocess.run([gearmand_binary(), "--version"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.split()[1] if out.stdout.split()[1:] else out.stdout.strip()
