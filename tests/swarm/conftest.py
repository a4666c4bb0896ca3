"""Helpers for the load-swarm tests: profiles written on the fly, unique function names."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "profile.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


@pytest.fixture
def fn() -> str:
    """A function name no other test (or server user) shares."""
    return f"t{uuid.uuid4().hex[:10]}"
