"""The database server behind each persistent-queue back end, by the back end's name.

``sqlite`` is a file and needs no server; the others name the ``DatabaseServer``
class a job-server target starts beside itself (and stops after itself).
"""

from __future__ import annotations

from pathlib import Path

from ._database import DatabaseServer
from .mariadb import MariaDBServer
from .memcached import MemcachedServer
from .postgres import PostgresServer
from .redis import RedisServer

STORES: dict[str, type[DatabaseServer]] = {
    "mysql": MariaDBServer,
    "postgres": PostgresServer,
    "redis": RedisServer,
    "memcached": MemcachedServer,
}


def open_store(backend: str, *, log_dir: Path) -> DatabaseServer | None:
    """A not-yet-started database server for ``backend``; None for a file back end."""
    cls = STORES.get(backend)
    return cls(log_dir=log_dir) if cls else None
