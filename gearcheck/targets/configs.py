"""Server configurations asked for abstractly, and the error when a target cannot give one.

Strategy: a conformance case says what kind of server it needs ("exceptions on
by default", "a job dropped after 2 worker losses", "background jobs kept in a
persistent queue") without naming any implementation's flags. ``ServerConfig``
is that request: a small frozen (hashable) value, so servers started for one
configuration can be pooled by it. Each ``Target`` class translates it to its
own command line in ``Target.apply_config``; one that cannot raises
``ConfigUnsupported`` with the reason, which the engine turns into an
UNSUPPORTED verdict with that reason as evidence.

A persistent queue has a back end: ``queue_backend`` names one of
``QUEUE_BACKENDS`` (a SQLite file, or a MySQL/MariaDB, PostgreSQL, Redis or
memcached server the target starts beside the job server); naming one
implies ``persistent_queue``. Without a name each target uses its own
default (SQLite for gearmand and the reference server).

The YAML forms (``parse_config``): a shorthand string (``default``,
``exceptions_on``, ``persistent_queue``, ``fresh``) or a mapping with any of
``exceptions: bool``, ``job_retries: int``, ``persistent_queue: bool``,
``queue_backend: name``, ``fresh: bool``. ``fresh`` asks for a server no
other case has used (it is about placement, not flags, so every target can
give it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SHORTHANDS = ("default", "exceptions_on", "persistent_queue", "fresh")
CONFIG_KEYS = ("exceptions", "job_retries", "persistent_queue", "queue_backend", "fresh")
QUEUE_BACKENDS = ("sqlite", "mysql", "postgres", "redis", "memcached")


@dataclass(frozen=True)
class ServerConfig:
    exceptions: bool = False           # WORK_EXCEPTION to clients that never sent OPTION_REQ
    job_retries: int | None = None     # drop a job after this many worker losses
    persistent_queue: bool = False     # background jobs survive a restart (even kill -9)
    fresh: bool = False                # a server no other case has used
    queue_backend: str | None = None   # one of QUEUE_BACKENDS; None: the target's default

    def __post_init__(self) -> None:
        if self.queue_backend is not None:
            if self.queue_backend not in QUEUE_BACKENDS:
                raise ValueError(f"unknown queue back end {self.queue_backend!r}; use one of "
                                 f"{', '.join(QUEUE_BACKENDS)}")
            object.__setattr__(self, "persistent_queue", True)

    @property
    def flags_default(self) -> bool:
        """No command-line difference from the implementation's defaults."""
        return not self.exceptions and self.job_retries is None and not self.persistent_queue

    def pool_key(self) -> tuple[bool, int | None]:
        """What makes two pooled servers interchangeable (persistent/fresh are never pooled)."""
        return (self.exceptions, self.job_retries)

    def describe(self) -> str:
        parts = []
        if self.exceptions:
            parts.append("exceptions on by default")
        if self.job_retries is not None:
            parts.append(f"job retries {self.job_retries}")
        if self.persistent_queue:
            parts.append(f"persistent queue ({self.queue_backend})" if self.queue_backend
                         else "persistent queue")
        if self.fresh:
            parts.append("fresh")
        return ", ".join(parts) or "default"

    def to_dict(self) -> dict[str, Any]:
        return {"exceptions": self.exceptions, "job_retries": self.job_retries,
                "persistent_queue": self.persistent_queue, "queue_backend": self.queue_backend,
                "fresh": self.fresh}


def parse_config(value: Any) -> ServerConfig:
    """A ``ServerConfig`` from its YAML form; ``ValueError`` names what is wrong."""
    if isinstance(value, str):
        if value not in SHORTHANDS:
            raise ValueError(f"unknown server configuration {value!r}; use one of "
                             f"{', '.join(SHORTHANDS)} or a mapping of {', '.join(CONFIG_KEYS)}")
        return ServerConfig(exceptions=value == "exceptions_on",
                            persistent_queue=value == "persistent_queue", fresh=value == "fresh")
    if not isinstance(value, dict):
        raise ValueError(f"a server configuration is a name ({', '.join(SHORTHANDS)}) or a "
                         f"mapping, got {value!r}")
    unknown = [k for k in value if k not in CONFIG_KEYS]
    if unknown:
        raise ValueError(f"unknown configuration key {unknown[0]!r}; keys are "
                         f"{', '.join(CONFIG_KEYS)}")
    retries = value.get("job_retries")
    if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool)
                                or retries < 1):
        raise ValueError(f"job_retries must be a whole number >= 1, got {retries!r}")
    flags = {k: value.get(k, False) for k in ("exceptions", "persistent_queue", "fresh")}
    for key, flag in flags.items():
        if not isinstance(flag, bool):
            raise ValueError(f"{key} must be true or false, got {flag!r}")
    backend = value.get("queue_backend")
    if backend is not None and backend not in QUEUE_BACKENDS:
        raise ValueError(f"queue_backend must be one of {', '.join(QUEUE_BACKENDS)}, "
                         f"got {backend!r}")
    return ServerConfig(job_retries=retries, queue_backend=backend, **flags)
