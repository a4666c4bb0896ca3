"""Helpers for the whole-run tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def _processes_mentioning(text: str) -> list[str]:
    """The command lines (argv joined by spaces) of the running processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(argv)
    return found


@pytest.fixture
def processes_mentioning() -> Callable[[str], list[str]]:
    return _processes_mentioning
