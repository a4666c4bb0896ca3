"""Helpers for the engine tests: write a scenario to a temp file and run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gearcheck.engine.loader import load_file
from gearcheck.engine.probe import KNOWN_CAPABILITIES, CapabilityProfile
from gearcheck.engine.runner import run_case
from gearcheck.engine.servers import ExtraServers
from gearcheck.engine.timing import Timing
from gearcheck.results import CaseResult
from gearcheck.wire import Address

HEADER = """id: GM-TEST-{n:03d}
title: engine test case
level: MUST
source: tests/engine
"""


@pytest.fixture
def run_yaml(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(1, 1000))

    def run(body: str, address: Address | str, *, timing: Timing | None = None,
            profile: CapabilityProfile | None = None,
            servers: ExtraServers | None = None) -> CaseResult:
        path = tmp_path / f"case{next(counter)}.yaml"
        path.write_text(HEADER.format(n=int(path.stem[4:])) + body)
        scenarios, errors = load_file(path, set(KNOWN_CAPABILITIES))
        assert not errors, "\n".join(map(str, errors))
        addr = Address.parse(address) if isinstance(address, str) else address
        return run_case(scenarios[0], addr, run_id="t" + path.stem,
                        timing=timing or Timing(rtt_s=0.0005), profile=profile,
                        servers=servers)

    return run


def summary(result: CaseResult) -> dict[str, Any]:
    return {"verdict": result.verdict.value, "kind": result.failure_kind,
            "message": result.message, "expected": result.expected, "actual": result.actual}
