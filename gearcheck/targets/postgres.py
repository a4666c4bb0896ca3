"""PostgreSQL (Debian's postgresql) for gearmand's libpq queue.

``initdb`` makes a fresh cluster (superuser ``gearcheck``, trust
authentication: it only listens on 127.0.0.1 and its socket directory is the
private data root), then ``postgres`` runs in the foreground as the
``postgres`` account when the harness is root (PostgreSQL refuses root).
Durability settings stay at PostgreSQL's defaults (fsync on, synchronous
commit), so kill -9 must lose no committed row. The queue uses the
``postgres`` database that every cluster has.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ._database import DatabaseServer
from ._errors import TargetError

SUPERUSER = "gearcheck"
DATABASE = "postgres"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (/usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if not found:
        raise TargetError("PostgreSQL is not installed under /usr/lib/postgresql; run "
                          "scripts/install-system-deps.sh (Debian package postgresql)")
    return found[-1].parent


class PostgresServer(DatabaseServer):
    kind = "postgres"
    title = "PostgreSQL (Debian postgresql)"
    account = "postgres"

    def initialise(self) -> None:
        self.run_as_user([str(postgres_bin() / "initdb"), "-D", str(self.data_dir), "-U",
                          SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync",
                          "--no-instructions"], timeout=120)

    def command(self) -> list[str]:
        assert self.data_root is not None
        return [str(postgres_bin() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.data_root}",
                "-c", "max_connections=40", "-c", "shared_buffers=16MB",
                "-c", "log_min_messages=warning"]

    def answers(self) -> bool:
        try:
            done = subprocess.run([str(postgres_bin() / "pg_isready"), "-q", "-h", self.host,
                                   "-p", str(self.port), "-t", "1"], timeout=5,
                                  capture_output=True)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def conninfo(self) -> str:
        return (f"host={self.host} port={self.port} user={SUPERUSER} dbname={DATABASE} "
                "connect_timeout=5")

    def sql(self, statement: str) -> str:
        return self.run_as_user([str(postgres_bin() / "psql"), "-X", "-q", "-A", "-t", "-h",
                                 self.host, "-p", str(self.port), "-U", SUPERUSER, "-d",
                                 DATABASE, "-c", statement], timeout=30)

    def version(self) -> str:
        out = subprocess.run([str(postgres_bin() / "postgres"), "--version"],
                             capture_output=True, text=True, timeout=10)
        words = out.stdout.split()  # postgres (PostgreSQL) 15.18 (Debian ...)
        return words[2] if len(words) > 2 else out.stdout.strip()
