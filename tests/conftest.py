"""Servers shared by the harness's own tests.

Each fixture starts a real server on a free loopback port for the test session
and always stops it. Areas add their own fixtures in tests/<area>/conftest.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from gearcheck.targets import GearmandTarget, RefServerTarget
from gearcheck.wire import Address


@pytest.fixture(scope="session")
def gearmand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GearmandTarget]:
    """The C gearmand 1.1.20 from Debian, started for the session."""
    target = GearmandTarget(log_dir=tmp_path_factory.mktemp("gearmand"))
    with target:
        yield target


@pytest.fixture(scope="session")
def gearmand_address(gearmand: GearmandTarget) -> Address:
    return gearmand.address


@pytest.fixture(scope="session")
def refserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefServerTarget]:
    """gearcheck's reference server (python -m gearcheck.refserver), started for the session."""
    target = RefServerTarget(log_dir=tmp_path_factory.mktemp("refserver"))
    with target:
        yield target


@pytest.fixture(autouse=True)
def _locust_stays_out_of_the_test_process() -> Iterator[None]:
    """Importing Locust monkey-patches the whole process with gevent (threads become
    greenlets, sockets cooperative), which changes how every later test behaves;
    tests import Locust-free modules and run Locust in child processes."""
    yield
    assert "locust" not in sys.modules, (
        "this test imported Locust into the pytest process; import the Locust-free "
        "module (swarm.stages, swarm.sampling, ...) or run it in a child process")
