"""Interop tests run the real libraries: install them (project script) when missing."""

from __future__ import annotations

import pytest

from gearcheck.interop import registry


@pytest.fixture(scope="session", autouse=True)
def interop_libraries_installed() -> None:
    registry.ensure_installed()
