"""The servers the interop matrix runs through: gearmand, and the reference server.

Strategy: a name -> factory table; each factory returns a fresh, stopped
Target, gearmand logging errors only and the reference server warnings, so
a matrix run's server logs hold what went wrong and little else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..targets import GearmandTarget, RefServerTarget, Target


def _gearmand(log_dir: Path) -> Target:
    return GearmandTarget(log_dir=log_dir, verbose="ERROR")


def _refserver(log_dir: Path) -> Target:
    return RefServerTarget(log_dir=log_dir, log_level="warning")


FACTORIES: dict[str, Callable[[Path], Target]] = {"gearmand": _gearmand, "refserver": _refserver}
DEFAULT_SERVERS = ("gearmand", "refserver")


def make(name: str, log_dir: Path) -> Target:
    if name not in FACTORIES:
        raise ValueError(f"unknown interop server {name!r}; known: {', '.join(FACTORIES)}")
    return FACTORIES[name](log_dir)
