"""Mutation testing of the conformance suite: does it catch each one-defect server?

Strategy: the suite runs (``gearcheck.runs.run_suite``, no baseline, no report
files) first straight against the correct server and then through the clean
proxy (no mutation); the proxy must not change a single verdict, which shows it
is transparent. The capability profile is probed once, through the clean
proxy, and given to every run, so a mutation that hides a packet turns cases
into FAIL rather than UNSUPPORTED. Each mutant then runs only the cases that
passed cleanly, each run with its own run id (fresh function names); a case
that ends FAIL or ERROR under the mutant catches it, and a mutant caught by at
least one case is killed. The score is killed / mutants.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.probe import CapabilityProfile, probe_server
from ..results import CaseResult, Verdict
from ..runs import SuiteSettings, run_suite
from ..wire import Address
from .mutant_proxy import MutantProxy
from .mutations import Mutation

CATCHING = (Verdict.FAIL, Verdict.XPASS, Verdict.ERROR)
Progress = Callable[[str, int], None]  # (what is running, cases done so far)


@dataclass
class MutantOutcome:
    name: str
    defect: str
    cases_run: int = 0
    caught_by: list[str] = field(default_factory=list)  # case ids that ended FAIL
    errored: list[str] = field(default_factory=list)  # case ids that ended ERROR
    messages: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def killed(self) -> bool:
        return bool(self.caught_by or self.errored)

    def to_dict(self) -> dict[str, object]:
        return {"mutant": self.name, "defect": self.defect, "killed": self.killed,
                "caught_by": self.caught_by, "errored": self.errored,
                "cases_run": self.cases_run, "messages": self.messages,
                "duration_s": round(self.duration_s, 2)}


@dataclass
class MutantsReport:
    server: str
    cases: int
    direct: dict[str, str] = field(default_factory=dict)  # case id -> verdict
    clean: dict[str, str] = field(default_factory=dict)
    mutants: list[MutantOutcome] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def proxy_differences(self) -> dict[str, tuple[str, str]]:
        return {cid: (v, self.clean.get(cid, "missing")) for cid, v in self.direct.items()
                if self.clean.get(cid) != v}

    @property
    def score(self) -> float:
        return sum(m.killed for m in self.mutants) / len(self.mutants) if self.mutants else 0.0

    def to_dict(self) -> dict[str, object]:
        killed = sum(m.killed for m in self.mutants)
        return {"server": self.server, "cases": self.cases,
                "clean_proxy": {"verdicts": _counts(self.clean),
                                "differences_from_direct": {
                                    k: {"direct": a, "proxy": b}
                                    for k, (a, b) in self.proxy_differences.items()}},
                "direct": {"verdicts": _counts(self.direct)},
                "mutants": len(self.mutants), "killed": killed,
                "survived": [m.name for m in self.mutants if not m.killed],
                "score": round(self.score, 4),
                "per_mutant": [m.to_dict() for m in self.mutants],
                "duration_s": round(self.duration_s, 1)}


def _counts(verdicts: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in verdicts.values():
        out[v] = out.get(v, 0) + 1
    return out


def _run_all(cases: list[Path], address: Address, profile: CapabilityProfile,
             progress: Progress | None, label: str, case_ids: list[str] | None = None,
             stop_at_first: bool = False, case_timeout: float | None = None,
             ) -> list[CaseResult]:
    settings = SuiteSettings(
        server=str(address), cases=cases, use_baseline=False, write_reports=False,
        quiet=True, profile=profile, jobs=16, case_ids=case_ids or [],
        case_timeout=case_timeout, stop_at_first_failure=stop_at_first,
        on_result=(lambda _r: progress(label, 1)) if progress else None)
    outcome = run_suite(settings)
    if outcome.report is None:
        raise RuntimeError(f"{label}: the suite could not run: {outcome.problem}")
    return outcome.report.results


def run_mutants(upstream: Address, cases: list[Path], mutations: list[Mutation], *,
                case_timeout: float | None = None, direct: bool = True,
                stop_at_first: bool = False, progress: Progress | None = None) -> MutantsReport:
    """Score the suite in ``cases`` (files or folders) against ``mutations`` of ``upstream``."""
    started = time.monotonic()
    report = MutantsReport(str(upstream), 0)
    stamp = f"mut{int(time.time() * 1000) % 10**8}"
    with MutantProxy(upstream) as clean:
        assert clean.address is not None
        profile = probe_server(clean.address, f"{stamp}-probe")
        if direct:
            for r in _run_all(cases, upstream, profile, progress, "direct",
                              case_timeout=case_timeout):
                report.direct[r.case_id] = r.verdict.value
        for r in _run_all(cases, clean.address, profile, progress, "clean proxy",
                          case_timeout=case_timeout):
            report.clean[r.case_id] = r.verdict.value
    report.cases = len(report.clean)
    passing = [cid for cid, v in report.clean.items() if Verdict(v).is_success]
    for mutation in mutations:
        outcome = MutantOutcome(mutation.name, mutation.defect)
        t0 = time.monotonic()
        with MutantProxy(upstream, mutation) as proxy:
            assert proxy.address is not None
            results = _run_all(cases, proxy.address, profile, progress, mutation.name,
                               case_ids=passing, stop_at_first=stop_at_first,
                               case_timeout=case_timeout)
        outcome.cases_run = len(results)
        for r in results:
            if r.verdict in (Verdict.FAIL, Verdict.XPASS):
                outcome.caught_by.append(r.case_id)
            elif r.verdict == Verdict.ERROR:
                outcome.errored.append(r.case_id)
            if r.verdict in CATCHING and len(outcome.messages) < 5:
                outcome.messages[r.case_id] = r.message[:300]
        outcome.duration_s = time.monotonic() - t0
        report.mutants.append(outcome)
    report.duration_s = time.monotonic() - started
    return report


def markdown(report: MutantsReport) -> str:
    d = report.to_dict()
    lines = [f"# Mutation score: {d['killed']}/{d['mutants']} ({report.score:.0%})", "",
             f"Server behind the proxy: {report.server}; {report.cases} cases; "
             f"clean proxy verdicts {d['clean_proxy']['verdicts']} "  # type: ignore[index]
             f"({len(report.proxy_differences)} differ from the direct run).", "",
             "| mutant | defect | killed | caught by (FAIL) | ERROR |", "|---|---|---|---|---|"]
    for m in report.mutants:
        caught = ", ".join(m.caught_by[:8]) + (" ..." if len(m.caught_by) > 8 else "")
        lines.append(f"| {m.name} | {m.defect} | {'yes' if m.killed else '**no**'} | "
                     f"{caught or '-'} ({len(m.caught_by)}) | {len(m.errored)} |")
    return "\n".join(lines) + "\n"
