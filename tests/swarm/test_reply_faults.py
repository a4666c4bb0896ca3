"""The swarm's invariants against a server whose replies are dropped, doubled or reordered.

A real gearmand sits behind ``MutantProxy`` with one reply fault
(``robustness.reply_faults``): every Nth packet of one type, counted across
all connections, is dropped, sent twice, or held back behind the next packet
on its connection. The proxy logs what it really did, and the summary must
name exactly that defect with exactly that count, blame nothing else, and
the run must exit 1. Reordering replies the protocol leaves unordered (the
results of different jobs) is no defect: those runs must come out clean.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gearcheck.protocol import PacketType
from gearcheck.robustness.mutant_proxy import MutantProxy
from gearcheck.robustness.reply_faults import FaultLog, reply_fault
from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget

T = PacketType

# Mixed foreground and background, pipelined: JOB_CREATED, JOB_ASSIGN, WORK_COMPLETE.
MIXED = """\
name: faults-mixed
duration: 2s
users: 2
drain_timeout: 15s
clients:
  - name: c
    functions: [{fn}]
    background: {background}
    in_flight: 4
    arrival: {{model: open, rate: 60}}
workers:
  - name: w
    count: 3
    functions: [{fn}]
    outcomes: {outcomes}
thresholds: {{max_error_ratio: 1.0}}
"""

# One worker that sleeps between jobs: every job costs a PRE_SLEEP and a NOOP.
SLEEPY = """\
name: faults-sleepy
duration: 3s
users: 1
drain_timeout: 15s
clients:
  - name: c
    functions: [{fn}]
    in_flight: 2
    arrival: {{model: open, rate: 8}}
workers:
  - name: w
    count: 1
    functions: [{fn}]
"""

COMPLETE = "{complete: 1}"
HALF_FAIL = "{complete: 1, fail: 1}"


def _run(gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
         text: str, ptype: PacketType, action: str, every: int
         ) -> tuple[int, dict[str, Any], FaultLog]:
    mutation, log = reply_fault(ptype, action, every)
    with MutantProxy(gearmand.address, mutation) as proxy:
        result = run_load(write_profile(text), server=str(proxy.address),
                          out_root=tmp_path / "reports", run_name="run", quiet=True)
    assert result.summary is not None, result.problems
    return result.exit_code, result.summary, log


def _clean_apart_from(summary: dict[str, Any], expected: dict[str, int]) -> None:
    inv = summary["invariants"]
    assert inv["defects"] == expected
    assert summary["errors"]["by_kind"] == {}
    fg = inv["foreground"]
    assert fg["abandoned_by_stopped_users"] == 0


CASES = [
    # (reply type, action, profile, expected defect, how many: from the proxy's log)
    (T.JOB_CREATED, "drop", MIXED, COMPLETE, 0.5, "never_created",
     lambda log: log.applied),
    (T.JOB_CREATED, "duplicate", MIXED, COMPLETE, 0.5, "duplicated_job_created",
     lambda log: log.applied),
    (T.JOB_ASSIGN_UNIQ, "drop", MIXED, COMPLETE, 0.5, "unanswered_grabs",
     lambda log: log.applied),
    (T.JOB_ASSIGN_UNIQ, "duplicate", MIXED, COMPLETE, 0.5, "duplicate_assignments",
     lambda log: log.applied),
    (T.WORK_COMPLETE, "drop", MIXED, COMPLETE, 0.0, "lost", lambda log: log.applied),
    (T.WORK_COMPLETE, "duplicate", MIXED, COMPLETE, 0.0, "duplicated",
     lambda log: log.applied),
    (T.WORK_FAIL, "drop", MIXED, HALF_FAIL, 0.0, "lost", lambda log: log.applied),
    (T.WORK_FAIL, "duplicate", MIXED, HALF_FAIL, 0.0, "duplicated", lambda log: log.applied),
    (T.NOOP, "drop", SLEEPY, COMPLETE, 0.0, "missed_wakeups", lambda log: log.applied),
    (T.NOOP, "duplicate", SLEEPY, COMPLETE, 0.0, "unexpected_noops",
     lambda log: log.applied),
]


SLOW = {(T.JOB_ASSIGN_UNIQ, "drop"), (T.NOOP, "drop"), (T.NOOP, "duplicate")}


@pytest.mark.parametrize(("ptype", "action", "profile", "outcomes", "background", "defect",
                          "count"),
                         [pytest.param(*c, marks=[pytest.mark.slow] if c[:2] in SLOW else [],
                                       id=f"{c[1]}-{c[0].name}") for c in CASES])
def test_one_reply_fault_is_named_once(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str, ptype: PacketType, action: str, profile: str, outcomes: str,
        background: float, defect: str, count: Callable[[FaultLog], int]) -> None:
    every = 4 if profile is SLEEPY else 15
    text = profile.format(fn=fn, outcomes=outcomes, background=background)
    code, summary, log = _run(gearmand, tmp_path, write_profile, text, ptype, action, every)
    assert log.applied > 0, f"the run never produced {every} {ptype.name} packets"
    _clean_apart_from(summary, {defect: count(log)})
    assert code == 1


def test_reordered_job_created_is_out_of_order(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    # Background only: nothing but JOB_CREATED travels to the clients, so each held
    # acknowledgement lands behind the next one (or, at the very end, never arrives).
    text = MIXED.format(fn=fn, outcomes=COMPLETE, background=1.0)
    code, summary, log = _run(gearmand, tmp_path, write_profile, text, T.JOB_CREATED,
                              "reorder", 15)
    assert log.swapped_with["JOB_CREATED"] == log.swapped > 0
    expected = {"job_created_out_of_order": log.swapped}
    if log.stranded:
        expected["never_created"] = log.stranded
    _clean_apart_from(summary, expected)
    assert code == 1


@pytest.mark.parametrize(("ptype", "outcomes"), [(T.WORK_COMPLETE, COMPLETE),
                                                 (T.WORK_FAIL, HALF_FAIL)],
                         ids=["WORK_COMPLETE", "WORK_FAIL"])
def test_reordered_results_of_different_jobs_are_no_defect(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str, ptype: PacketType, outcomes: str) -> None:
    text = MIXED.format(fn=fn, outcomes=outcomes, background=0.0)
    code, summary, log = _run(gearmand, tmp_path, write_profile, text, ptype, "reorder", 15)
    assert log.swapped > 0
    fg = summary["invariants"]["foreground"]
    assert fg["results"] + log.stranded == fg["submissions"] > 0
    _clean_apart_from(summary, {"lost": log.stranded} if log.stranded else {})
    assert code == (1 if log.stranded else 0)


@pytest.mark.slow
def test_reordered_noop_is_a_missed_wakeup(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    # The held NOOP only moves when the sleeping worker's own wake-up check brings a
    # JOB_ASSIGN: the worker found work it was never woken for, then got a NOOP while busy.
    text = SLEEPY.format(fn=fn)
    code, summary, log = _run(gearmand, tmp_path, write_profile, text, T.NOOP, "reorder", 4)
    assert log.swapped_with["JOB_ASSIGN_UNIQ"] == log.swapped > 0
    _clean_apart_from(summary, {"missed_wakeups": log.swapped,
                                "unexpected_noops": log.swapped})
    assert code == 1
