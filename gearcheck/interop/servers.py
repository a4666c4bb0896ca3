"""The servers the interop matrix runs through by default: gearmand and the reference server.

Any registered name (fixtures/servers.yaml, aliases too) works with --servers;
the registry's entries log errors (gearmand) or warnings (the reference server)
only, so a matrix run's server logs hold what went wrong and little else.
"""

from __future__ import annotations

from pathlib import Path

from ..targets import Target, open_target

DEFAULT_SERVERS = ("gearmand", "refserver")


def make(name: str, log_dir: Path) -> Target:
    return open_target(name, log_dir=log_dir)
