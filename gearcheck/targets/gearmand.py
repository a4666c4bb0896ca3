"""The C gearmand (Debian's gearman-job-server, /usr/sbin/gearmand).

Started on loopback only (gearmand's own default is every interface), with
its log and pid file in the target's log directory and everything else at
gearmand's defaults unless ``extra_args`` says otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ._base import ProcessTarget
from ._errors import TargetError

if TYPE_CHECKING:
    from .configs import ServerConfig

GEARMAND_PATH = "/usr/sbin/gearmand"


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
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.extra_args = list(extra_args or [])
        self.verbose = verbose

    def command(self, port: int) -> list[str]:
        assert self.log_path is not None
        return [
            gearmand_binary(),
            "--listen=127.0.0.1", f"--port={port}",
            f"--log-file={self.log_path}", f"--verbose={self.verbose}",
            f"--pid-file={self.log_dir / f'gearmand-{port}.pid'}",
            *self.extra_args,
        ]

    def apply_config(self, config: ServerConfig, state_dir: Path) -> None:
        """gearmand's flags: --exceptions, --job-retries=N, the libsqlite3 queue."""
        if config.exceptions:
            self.extra_args.append("--exceptions")
        if config.job_retries is not None:
            self.extra_args.append(f"--job-retries={config.job_retries}")
        if config.persistent_queue:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.extra_args += ["--queue-type=libsqlite3",
                                f"--libsqlite3-db={state_dir / 'gearmand-queue.sqlite'}"]

    @staticmethod
    def version() -> str:
        out = subprocess.run([gearmand_binary(), "--version"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.split()[1] if out.stdout.split()[1:] else out.stdout.strip()
