"""The CI gate: one exit code from a report (and optionally a baseline).

Exit codes (the same as every gearcheck command):

    0  every gated case passed (PASS, NON-STRICT) or failed as the baseline expects (XFAIL);
       UNSUPPORTED cases do not fail the gate unless ``strict_unsupported`` is set
    1  at least one new failure (FAIL) or XPASS (an expected failure that now passes:
       its baseline entry must be removed); with ``strict_baseline`` also stale entries,
       with ``strict_unsupported`` also UNSUPPORTED cases the baseline does not list
    2  the harness could not judge: the report or baseline is unreadable or breaks its
       schema (raised before ``evaluate``), a gated case is ERROR and nothing failed, or
       the report holds no gated case at all

Decisions, stated once: a run that found a definite failure exits 1 even if
other cases are ERROR, because the server is known to be wrong either way (the
errors are still listed); ERROR alone means the run could not judge and exits
2, since ERROR is never the server's fault. Every level is gated by default
(MUST, SHOULD and OBSERVED); ``levels`` narrows it, and failures at other
levels are reported but do not count. XPASS counts at any level: a baseline
that lies is stale whatever the level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import CaseResult, RunReport, Verdict
from .baseline import AppliedBaseline, BaselineEntry

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2
ALL_LEVELS = ("MUST", "SHOULD", "OBSERVED")


@dataclass
class GateOutcome:
    exit_code: int
    gated: int
    new_failures: list[CaseResult] = field(default_factory=list)
    xpasses: list[CaseResult] = field(default_factory=list)
    errors: list[CaseResult] = field(default_factory=list)
    expected_failures: list[CaseResult] = field(default_factory=list)
    unsupported: list[CaseResult] = field(default_factory=list)
    ungated_failures: list[CaseResult] = field(default_factory=list)
    stale: list[BaselineEntry] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for r in self.new_failures:
            out.append(f"NEW FAILURE  {r.case_id} [{r.level}] {r.message or r.title}"
                       + (f" ({r.file}:{r.line})" if r.file else ""))
        for r in self.xpasses:
            b = r.evidence.get("baseline") or {}
            where = f" ({b['file']}:{b['line']})" if b.get("file") else ""
            out.append(f"XPASS        {r.case_id} [{r.level}] expected "
                       f"{b.get('expected', 'a failure')} but it now gives "
                       f"{b.get('verdict_before', 'PASS')}: remove it from the baseline{where}")
        for r in self.errors:
            out.append(f"ERROR        {r.case_id} [{r.level}] {r.message or 'harness error'}")
        for e in self.stale:
            out.append(f"STALE        baseline entry {e.case_id} ({e.where}) matches no case "
                       "in the report")
        for r in self.ungated_failures:
            out.append(f"not gated    {r.case_id} [{r.level}] {r.verdict.value}: "
                       f"{r.message or r.title}")
        return out

    def summary(self) -> str:
        return (f"exit {self.exit_code}: {self.gated} gated cases, "
                f"{len(self.new_failures)} new failures, {len(self.xpasses)} XPASS, "
                f"{len(self.errors)} errors, {len(self.expected_failures)} expected failures, "
                f"{len(self.unsupported)} unsupported, {len(self.stale)} stale baseline entries"
                + (f" ({'; '.join(self.reasons)})" if self.reasons else ""))


def evaluate(report: RunReport, applied: AppliedBaseline | None = None, *,
             levels: tuple[str, ...] = ALL_LEVELS, strict_baseline: bool = False,
             strict_unsupported: bool = False) -> GateOutcome:
    """Judge ``report`` (already baselined when ``applied`` is given: its report is used)."""
    if applied is not None:
        report = applied.report
    wanted = {lv.upper() for lv in levels}
    outcome = GateOutcome(exit_code=EXIT_OK, gated=0,
                          stale=list(applied.stale) if applied else [])
    for r in report.results:
        gated = r.level.upper() in wanted
        v = r.verdict
        if v is Verdict.XPASS:
            outcome.xpasses.append(r)
        elif not gated:
            if v is Verdict.FAIL or v is Verdict.ERROR:
                outcome.ungated_failures.append(r)
            continue
        outcome.gated += gated
        if v is Verdict.FAIL:
            outcome.new_failures.append(r)
        elif v is Verdict.ERROR:
            outcome.errors.append(r)
        elif v is Verdict.XFAIL:
            outcome.expected_failures.append(r)
        elif v is Verdict.UNSUPPORTED:
            expected = (r.evidence.get("baseline") or {}).get("expected") == "UNSUPPORTED"
            if strict_unsupported and not expected:
                outcome.new_failures.append(r)
            else:
                outcome.unsupported.append(r)
    if outcome.new_failures:
        outcome.reasons.append("new failures")
    if outcome.xpasses:
        outcome.reasons.append("expected failures now pass")
    if strict_baseline and outcome.stale:
        outcome.reasons.append("stale baseline entries")
    if outcome.reasons:
        outcome.exit_code = EXIT_FAILED
    elif outcome.errors:
        outcome.exit_code = EXIT_HARNESS
        outcome.reasons.append("the harness could not judge every case")
    elif outcome.gated == 0:
        outcome.exit_code = EXIT_HARNESS
        outcome.reasons.append(f"the report has no case at levels {sorted(wanted)}")
    return outcome
