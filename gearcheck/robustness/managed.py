"""Servers the robustness tools start themselves, by name.

Strategy: a managed server can be restarted after it dies and has a pid, so
the sentinel can read its RSS and file descriptors from /proc. A name maps to
its target class here; an unknown name is a ``TargetError`` listing the known.
"""

from __future__ import annotations

from pathlib import Path

from ..targets import GearmandTarget, ProcessTarget, RefServerTarget, TargetError

TARGET_NAMES = ("refserver", "gearmand")


def make_target(name: str, *, log_dir: Path, extra_args: list[str] | None = None,
                port: int | None = None) -> ProcessTarget:
    if name == "gearmand":
        return GearmandTarget(log_dir=log_dir, extra_args=extra_args, port=port)
    if name == "refserver":
        return RefServerTarget(log_dir=log_dir, extra_args=extra_args, port=port)
    raise TargetError(f"unknown target {name!r}: choose one of {', '.join(TARGET_NAMES)}")
