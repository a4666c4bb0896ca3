"""Known library bugs are reproduced for real and classified by the interop baseline."""

from __future__ import annotations

from gearcheck.interop import baselines
from gearcheck.interop.cell import run_cell
from gearcheck.interop.registry import LIBRARIES
from gearcheck.interop.scenarios import load_all
from gearcheck.results import Verdict

SCENARIOS = {s.id: s for s in load_all()}


def test_gearmanode_worker_corrupts_binary_results_and_baseline_says_why(gearmand) -> None:
    result = run_cell(SCENARIOS["IOP-BIN-001"], LIBRARIES["php-gearman"],
                      LIBRARIES["gearmanode"], "gearmand", gearmand.address)
    assert result.verdict is Verdict.FAIL
    # workComplete() turns the Buffer into a UTF-8 string: 0xff becomes U+FFFD
    assert "\\ufffd" in result.message or "\\xef\\xbf\\xbd" in result.message, result.message
    base = baselines.load()
    baselines.apply(result, base.matrix, {"scenario": "IOP-BIN-001", "client": "php-gearman",
                                          "worker": "gearmanode", "server": "gearmand"})
    assert result.verdict is Verdict.XFAIL
    assert result.evidence["baseline"]["verdict_before"] == "FAIL"
    assert "toString" in result.evidence["baseline"]["reason"]


def test_python_gearman_client_crashes_on_gearmands_converted_fail(gearmand) -> None:
    result = run_cell(SCENARIOS["IOP-EXC-001"], LIBRARIES["pygearman"],
                      LIBRARIES["php-gearman"], "gearmand", gearmand.address)
    assert result.verdict is Verdict.FAIL
    assert "KeyError" in result.message
    base = baselines.load()
    baselines.apply(result, base.matrix, {"scenario": "IOP-EXC-001", "client": "pygearman",
                                          "worker": "php-gearman", "server": "gearmand"})
    assert result.verdict is Verdict.XFAIL


def test_a_passing_cell_under_a_baseline_entry_becomes_xpass(gearmand) -> None:
    result = run_cell(SCENARIOS["IOP-RT-001"], LIBRARIES["php-gearman"],
                      LIBRARIES["php-gearman"], "gearmand", gearmand.address)
    assert result.verdict is Verdict.PASS
    entry = baselines.Entry({"scenario": ("IOP-RT-*",)}, "pretend bug", "test")
    baselines.apply(result, [entry], {"scenario": "IOP-RT-001"})
    assert result.verdict is Verdict.XPASS
