"""Servers for the explorer's tests: a second gearmand and a second reference server.

The session's ``gearmand`` and ``refserver`` (tests/conftest.py) are the first
copies; explore compares servers side by side, so the same-implementation
tests need a second copy of each. ``explore_server`` probes a started target
once per session and gives the explorer's ``Server`` for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gearcheck.engine.probe import CapabilityProfile, probe_server
from gearcheck.explore.run import Server
from gearcheck.targets import GearmandTarget, ProcessTarget, RefServerTarget


@pytest.fixture(scope="session")
def gearmand2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GearmandTarget]:
    target = GearmandTarget(log_dir=tmp_path_factory.mktemp("gearmand2"), verbose="ERROR")
    with target:
        yield target


@pytest.fixture(scope="session")
def refserver2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefServerTarget]:
    target = RefServerTarget(log_dir=tmp_path_factory.mktemp("refserver2"), log_level="warning")
    with target:
        yield target


@pytest.fixture(scope="session")
def explore_server() -> Callable[[ProcessTarget, str, str], Server]:
    profiles: dict[str, CapabilityProfile] = {}

    def make(target: ProcessTarget, label: str, implementation: str) -> Server:
        key = str(target.address)
        if key not in profiles:
            profiles[key] = probe_server(target.address, f"gxtest{len(profiles)}")
        return Server(label, implementation, profiles[key], target.address)

    return make
