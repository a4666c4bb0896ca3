"""Redis (Debian's redis-server) for gearmand's redis queue (hiredis).

No configuration file; loopback only; the append-only file on with an fsync
after every write (``appendfsync always``), the most durable setting Redis
has, so a killed Redis loses nothing it acknowledged and a lost job is
gearmand's doing, not a relaxed Redis default. RDB snapshots are off.
"""

from __future__ import annotations

import shutil
import subprocess

from ._database import DatabaseServer, exchange
from ._errors import TargetError


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise TargetError("redis-server is not installed; run scripts/install-system-deps.sh "
                          "(Debian package redis-server)")
    return found


class RedisServer(DatabaseServer):
    kind = "redis"
    title = "Redis (Debian redis-server), appendfsync always"

    def command(self) -> list[str]:
        return [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--protected-mode", "no", "--daemonize", "no", "--logfile", ""]

    def initialise(self) -> None:
        self.data_dir.mkdir()

    def answers(self) -> bool:
        return exchange(self.host, self.port, b"PING\r\n", timeout=0.5).startswith(b"+PONG")

    def command_reply(self, *words: str) -> bytes:
        """One RESP command (inline form, plain words); the raw reply's first bytes."""
        return exchange(self.host, self.port, (" ".join(words) + "\r\n").encode(), timeout=2.0,
                        want=1 << 16)

    def version(self) -> str:
        out = subprocess.run([redis_binary(), "--version"], capture_output=True, text=True,
                             timeout=10)
        for word in out.stdout.split():
            if word.startswith("v="):
                return word[2:]
        return out.stdout.strip()
