"""The servers the interop matrix runs through: gearmand, and the reference server.

Strategy: a name -> factory table; each factory returns a fresh, stopped
Target. The reference server is imported lazily, so the matrix still runs
(through gearmand) in a tree where it is absent or broken; ``available``
says which names can be started here and why not for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..targets import GearmandTarget, Target


def _gearmand(log_dir: Path) -> Target:
    return GearmandTarget(log_dir=log_dir, verbose="ERROR")


def _refserver(log_dir: Path) -> Target:
    from ..targets.refserver import RefServerTarget

    return RefServerTarget(log_dir=log_dir, log_level="warning")


FACTORIES: dict[str, Callable[[Path], Target]] = {"gearmand": _gearmand, "refserver": _refserver}
DEFAULT_SERVERS = ("gearmand", "refserver")


def available() -> dict[str, str | None]:
    """name -> None when it can be used, else the reason it cannot."""
    out: dict[str, str | None] = {"gearmand": None}
    try:
        from ..targets.refserver import RefServerTarget  # noqa: F401
        out["refserver"] = None
    except ImportError as exc:
        out["refserver"] = f"gearcheck.targets.refserver cannot be imported: {exc}"
    return out


def make(name: str, log_dir: Path) -> Target:
    if name not in FACTORIES:
        raise ValueError(f"unknown interop server {name!r}; known: {', '.join(FACTORIES)}")
    return FACTORIES[name](log_dir)
