"""gearcheck's own reference server (gearcheck.refserver), run as a child process.

Started with the venv's Python (``python -m gearcheck.refserver``) on a free
loopback port, optionally with a SQLite queue file (``queue_path``, or
``queue: sqlite`` for one in the log directory) and extra options. Like
every process target it is stopped with SIGTERM, and ``kill()`` is kill -9
for durability tests. With ``tls`` it listens for TLS only (its --tls-* options).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._base import ProcessTarget
from ._errors import ConfigUnsupported, TargetError

if TYPE_CHECKING:
    from ..testcerts import CertificateSet
    from .configs import ServerConfig


class RefServerTarget(ProcessTarget):
    name = "refserver"

    def __init__(self, *, queue_path: Path | str | None = None, queue: str = "builtin",
                 extra_args: list[str] | None = None, log_level: str = "info",
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if queue not in ("builtin", "sqlite"):
            raise TargetError(f"{self.name}: unknown queue {queue!r}; the reference server's "
                              "are builtin and sqlite")
        if queue == "sqlite" and queue_path is None:
            queue_path = self.log_dir / "refserver-queue.sqlite"
        self.queue_path = Path(queue_path) if queue_path else None
        self.extra_args = list(extra_args or [])
        self.log_level = log_level

    def command(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", "gearcheck.refserver", "--host", self.host,
                "--port", str(port), "--log-level", self.log_level]
        if self.queue_path is not None:
            argv += ["--queue", f"sqlite:{self.queue_path}"]
        return argv + self.extra_args

    def tls_arguments(self, certs: CertificateSet, *, mutual: bool) -> list[str]:
        argv = ["--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)]
        return argv + (["--tls-client-ca", str(certs.ca)] if mutual else [])

    @property
    def queue_backend(self) -> str | None:
        return "sqlite" if self.queue_path is not None else None

    def apply_config(self, config: ServerConfig, state_dir: Path) -> None:
        """The reference server's flags: --exceptions, --job-retries N, --queue sqlite:PATH."""
        if config.queue_backend not in (None, "sqlite"):
            raise ConfigUnsupported(f"{self.name} keeps its queue in SQLite only, not "
                                    f"{config.queue_backend}")
        if config.exceptions:
            self.extra_args.append("--exceptions")
        if config.job_retries is not None:
            self.extra_args += ["--job-retries", str(config.job_retries)]
        if config.persistent_queue:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.queue_path = state_dir / "refserver-queue.sqlite"
