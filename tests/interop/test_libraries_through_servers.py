"""Every library as client and as worker, through gearmand and the reference server.

Each library first serves its own client (same library on both sides), then
a few cross-language pairs exercise streaming, status and binary data. All
of it runs the real PHP extension, Node packages and Python venvs.
"""

from __future__ import annotations

import pytest

from gearcheck.interop import baselines
from gearcheck.interop.cell import run_cell
from gearcheck.interop.registry import LIBRARIES
from gearcheck.interop.scenarios import load_all
from gearcheck.results import CaseResult, Verdict

SCENARIOS = {s.id: s for s in load_all()}
ALL_LIBS = list(LIBRARIES)


def _judged(result: CaseResult, name: str, server: str) -> CaseResult:
    """A library's own pair can hit a baselined defect (rustygear's and aiogear's races):
    then it must be XFAIL with the entry's reason, never an unexplained FAIL."""
    baselines.apply(result, baselines.load().matrix, {
        "scenario": "IOP-RT-001", "client": name, "worker": name, "server": server})
    return result


@pytest.mark.parametrize("name", ALL_LIBS)
def test_library_is_client_and_worker_through_gearmand(name: str, gearmand) -> None:
    lib = LIBRARIES[name]
    result = _judged(run_cell(SCENARIOS["IOP-RT-001"], lib, lib, "gearmand", gearmand.address),
                     name, "gearmand")
    assert result.verdict in (Verdict.PASS, Verdict.XFAIL), result.message
    clients = result.evidence["clients"]
    assert clients[0]["library"] == name and clients[0]["role"] == "client"
    assert result.evidence["worker"]["library"] == name
    if result.verdict is Verdict.PASS:
        assert any(e["event"] == "complete" for e in clients[0]["events"])


@pytest.mark.parametrize("name", ALL_LIBS)
def test_library_is_client_and_worker_through_refserver(name: str, refserver) -> None:
    lib = LIBRARIES[name]
    result = _judged(run_cell(SCENARIOS["IOP-RT-001"], lib, lib, "refserver",
                              refserver.address), name, "refserver")
    assert result.verdict in (Verdict.PASS, Verdict.XFAIL), result.message


@pytest.mark.parametrize(("scenario", "client", "worker"), [
    ("IOP-DATA-001", "php-gearman", "gearman"),       # PHP client <- Node worker
    ("IOP-STATUS-001", "gearmanode", "pygearman"),    # Node client <- Python worker
    ("IOP-WARN-001", "pygearman", "php-gearman"),     # Python client <- PHP worker
    ("IOP-BIN-001", "abraxas", "pygearman"),          # binary, Node <- Python
    ("IOP-PRI-001", "python3-gearman", "gearmanode"),  # priorities, Python -> Node
    ("IOP-EXC-001", "gear", "php-gearman"),           # gear client (OPTION_REQ) <- PHP worker
    ("IOP-WARN-001", "gear", "php-gearman"),          # gear tells DATA from WARNING
    ("IOP-BIN-001", "php-gearman", "gear"),           # PHP client <- gear worker, binary
])
def test_cross_language_pairs(scenario: str, client: str, worker: str, gearmand) -> None:
    result = run_cell(SCENARIOS[scenario], LIBRARIES[client], LIBRARIES[worker], "gearmand",
                      gearmand.address)
    assert result.verdict is Verdict.PASS, result.message
    assert result.transcript, "the programs' events form the case's transcript"


def test_gear_client_without_get_status_is_unsupported_for_polling(gearmand) -> None:
    result = run_cell(SCENARIOS["IOP-BG-001"], LIBRARIES["gear"], LIBRARIES["php-gearman"],
                      "gearmand", gearmand.address)
    assert result.verdict is Verdict.UNSUPPORTED
    assert "status_poll" in result.message


def test_missing_feature_is_unsupported_not_fail(gearmand) -> None:
    result = run_cell(SCENARIOS["IOP-WARN-001"], LIBRARIES["node-gearman"],
                      LIBRARIES["php-gearman"], "gearmand", gearmand.address)
    assert result.verdict is Verdict.UNSUPPORTED
    assert "warning" in result.message
