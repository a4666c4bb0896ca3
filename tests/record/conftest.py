"""Recordings shared by the record tests: real applications through the proxy, once each.

``app_recording(name)`` records the library's application (tests/record/apps.py)
against the session's gearmand the first time a test asks for it and hands
the same recording to every later test, so the transparency, trace, profile
and case tests read one capture per library instead of making their own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gearcheck.interop import registry
from gearcheck.targets import GearmandTarget

from .apps import Recording, record_app


@pytest.fixture(scope="session")
def app_recording(gearmand: GearmandTarget, tmp_path_factory: pytest.TempPathFactory
                  ) -> Callable[[str], Recording]:
    registry.ensure_installed([registry.library("php-gearman"), registry.library("gearman")])
    made: dict[str, Recording] = {}
    root: Path = tmp_path_factory.mktemp("apps")

    def get(name: str) -> Recording:
        if name not in made:
            lib = registry.library(name)
            registry.ensure_installed([lib])
            made[name] = record_app(lib, gearmand.address, root / name)
        return made[name]

    return get
