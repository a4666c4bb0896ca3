"""The explore loop: sequences until the time is up, each finding confirmed, shrunk and written.

Strategy: every server is probed first (engine.probe) and only what all of
them support is generated. Then sequence after sequence (sequence n is seeded
by ``seed`` and n) runs in lockstep until ``seconds`` have passed or
``max_sequences`` ran. A sequence's first finding is handled at once:

  1. a signature seen before in this run only counts as another occurrence;
  2. a known divergence (known.py) that needs no context is recognized at once;
  3. the sequence is replayed in a fresh namespace: a finding that does not come
     back with the same signature is *unconfirmed* (timing-dependent: reported,
     never shrunk);
  4. it is shrunk (its own time and trial budget, not counted in ``seconds``),
     known divergences that need context are checked against the shrunk
     sequence, and a new finding is written as a YAML case in cases/ plus its
     operations in findings/, loaded back with the engine's loader, and run by
     the engine against every server: it must PASS on the expected server and
     fail on the others (``engine`` in the finding says what each gave).

The run writes summary.json and summary.md. New (or unconfirmed) findings make
the exit code 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import paths
from ..engine.loader import load_file
from ..engine.probe import CapabilityProfile
from ..engine.runner import run_case
from ..engine.timing import Timing
from .casewriter import case_document
from .compare import context, render
from .generator import Generator
from .known import KnownDivergence, recognize
from .lane import Lane, LaneOptions
from .ops import Op, ops_to_json
from .replay import Finding, Lockstep, Trace
from .shrink import shrink


@dataclass
class Server:
    label: str                 # its name in reports (registry name, #2 for a second copy)
    implementation: str        # what known divergences name it by ('' for host:port)
    profile: CapabilityProfile
    address: Any               # wire.Address


@dataclass
class ExploreSettings:
    seconds: float
    seed: int
    out_dir: Path
    max_sequences: int | None = None
    shrink_seconds: float = 30.0
    shrink_trials: int = 200
    max_findings: int = 20
    verify: bool = True
    shrink: bool = True              # False: report findings as found (the mutant sweep)
    stop_after_new: int | None = None  # end the run after this many new findings
    lane: LaneOptions = field(default_factory=LaneOptions)


@dataclass
class FindingReport:
    number: int
    status: str            # new | known | unconfirmed | duplicate-of-limit
    kind: str
    signature: str
    sequence: int
    step: int
    occurrences: int = 1
    original_ops: int = 0
    shrunk_ops: int = 0
    shrink_trials: int = 0
    shrink_complete: bool = True
    context: list[str] = field(default_factory=list)
    said: dict[str, dict[str, str]] = field(default_factory=dict)  # actor -> server -> text
    violations: dict[str, list[str]] = field(default_factory=dict)
    known: dict[str, object] | None = None
    expected_server: str = ""
    case_file: str = ""
    sequence_file: str = ""
    engine: dict[str, str] = field(default_factory=dict)  # server -> verdict of the case
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Summary:
    servers: list[dict[str, object]]
    seed: int
    seconds: float
    generated: list[str] = field(default_factory=list)  # capabilities used
    excluded: dict[str, list[str]] = field(default_factory=dict)  # capability -> lacking
    sequences: int = 0
    steps: int = 0
    explore_s: float = 0.0
    shrink_s: float = 0.0
    cpu_s: float = 0.0
    findings: list[FindingReport] = field(default_factory=list)
    known_hits: dict[str, int] = field(default_factory=dict)
    first_new_s: float | None = None  # exploring time when the first new finding came

    def count(self, status: str) -> int:
        return sum(1 for f in self.findings if f.status == status)

    @property
    def failed(self) -> bool:
        return any(f.status in ("new", "unconfirmed") for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        return {"servers": self.servers, "seed": self.seed, "seconds": self.seconds,
                "sequences": self.sequences, "steps": self.steps,
                "explore_s": round(self.explore_s, 2), "shrink_s": round(self.shrink_s, 2),
                "harness_cpu_s": round(self.cpu_s, 2),
                "findings": {s: self.count(s) for s in ("new", "known", "unconfirmed")},
                "first_new_s": None if self.first_new_s is None else round(self.first_new_s, 2),
                "known_hits": self.known_hits, "generated_capabilities": self.generated,
                "excluded_capabilities": self.excluded,
                "finding_details": [f.to_dict() for f in self.findings]}


Progress = Callable[[str], None]
"""Called after each sequence with how it ended: clean, new, known, unconfirmed or again."""


class Explorer:
    def __init__(self, servers: list[Server], settings: ExploreSettings,
                 known: list[KnownDivergence], progress: Progress | None = None) -> None:
        if not servers:
            raise ValueError("explore needs at least one server")
        self.servers = servers
        self.settings = settings
        self.known = known
        self.progress = progress
        caps = [{k for k, v in s.profile.capabilities.items() if v.get("supported")}
                for s in servers]
        self.capabilities = set.intersection(*caps)
        self.client_ids = all(s.profile.supports("packet:SET_CLIENT_ID") for s in servers)
        self.mixed_admin = all(s.profile.supports("behaviour:mixed-admin-binary")
                               for s in servers)
        self.sync_by_workers = self.client_ids and "admin:workers" in self.capabilities
        self.lanes = [self._lane(s) for s in servers]
        tag = f"gx{settings.seed % 1000}{int(time.time() * 1000) % 100000:05d}r"
        self.lockstep = Lockstep(self.lanes, tag)
        self.implementations = sorted({s.implementation for s in servers if s.implementation})
        self.summary = Summary(
            [{"name": s.label, "implementation": s.implementation or None,
              "address": str(s.address), "version": s.profile.version} for s in servers],
            settings.seed, settings.seconds, sorted(self.capabilities))
        for cap in sorted(set.union(*caps) - self.capabilities):
            self.summary.excluded[cap] = [s.label for s, c in zip(servers, caps, strict=True)
                                          if cap not in c]
        self._by_signature: dict[str, FindingReport] = {}
        self._started = time.monotonic()
        self._shrinking = 0.0

    def _lane(self, server: Server) -> Lane:
        lane = Lane(server.label, server.address, server.profile, self.settings.lane)
        lane.ids = self.client_ids
        lane.mixed_admin = self.mixed_admin
        lane.sync_by_workers = self.sync_by_workers
        return lane

    # -- the loop ------------------------------------------------------------------
    def run(self) -> Summary:
        s = self.settings
        s.out_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        cpu = time.process_time()
        end = started + s.seconds
        shrink_total = 0.0
        sequence = 0
        try:
            while time.monotonic() - shrink_total < end:
                if s.max_sequences is not None and sequence >= s.max_sequences:
                    break
                trace = self.lockstep.run(generator=Generator(s.seed, sequence,
                                                              self.capabilities))
                self.summary.sequences += 1
                self.summary.explore_s = time.monotonic() - started - shrink_total
                outcome = "clean"
                if trace.finding is not None:
                    t0 = time.monotonic()
                    outcome = self._handle(trace, sequence)
                    shrink_total += time.monotonic() - t0
                    if self.summary.first_new_s is None and self.summary.failed:
                        self.summary.first_new_s = self.summary.explore_s
                sequence += 1
                self.summary.steps = self.lockstep.steps_run
                if self.progress is not None:
                    self.progress(outcome)
                if s.stop_after_new is not None and \
                        self.count_new() + self.summary.count("unconfirmed") >= s.stop_after_new:
                    break
        finally:
            for lane in self.lanes:
                lane.end()
        self.summary.shrink_s = shrink_total
        self.summary.cpu_s = time.process_time() - cpu
        self._write_summary()
        return self.summary

    # -- one finding -------------------------------------------------------------------
    def _handle(self, trace: Trace, sequence: int) -> str:
        """Judge a sequence's finding; how it ended (a finding's status, or 'again')."""
        finding = trace.finding
        assert finding is not None
        seen = self._by_signature.get(finding.signature)
        if seen is not None:
            seen.occurrences += 1
            return "again"
        report = FindingReport(len(self.summary.findings) + 1, "new", finding.kind,
                               finding.signature, sequence, finding.step,
                               original_ops=len(trace.ops))
        report.said, report.violations = _said(trace, finding)
        self._by_signature[finding.signature] = report
        self.summary.findings.append(report)
        self._judge(report, trace)
        return report.status

    def _judge(self, report: FindingReport, trace: Trace) -> None:
        finding = trace.finding
        assert finding is not None
        sig = finding.signature
        entry = recognize(self.known, sig, None, self.implementations)
        if entry is not None:
            self._known(report, entry)
            return
        confirm = self._replay(trace.ops)
        if confirm.finding is None or confirm.finding.signature != sig:
            report.context = context(trace.ops)  # not shrunk: the whole sequence's features
            entry = recognize(self.known, sig, report.context, self.implementations)
            if entry is not None:
                self._known(report, entry)
                report.note = "not confirmed by a replay (timing-dependent)"
                return
            report.status = "unconfirmed"
            report.note = ("the replay of the same operations gave "
                           + (confirm.finding.signature if confirm.finding else "no finding"))
            self._save_sequence(report, trace)
            return
        if self.count_new() > self.settings.max_findings or not self.settings.shrink:
            report.context = context(confirm.ops)  # the whole sequence's features
            entry = recognize(self.known, sig, report.context, self.implementations)
            if entry is not None:
                self._known(report, entry)
                report.note = "recognized without shrinking"
                return
            report.note = ("not shrunk" if not self.settings.shrink
                           else "not shrunk: --max-findings reached")
            self._save_sequence(report, confirm)
            return
        result = shrink(confirm, self._replay,
                        max_trials=self.settings.shrink_trials,
                        deadline_s=self.settings.shrink_seconds)
        small = result.trace
        assert small.finding is not None
        report.shrunk_ops = len(small.ops)
        report.shrink_trials = result.trials
        report.shrink_complete = result.complete
        report.step = small.finding.step
        report.context = context(small.ops)
        report.said, report.violations = _said(small, small.finding)
        entry = recognize(self.known, sig, report.context, self.implementations)
        if entry is not None:
            self._known(report, entry)
            return
        self._write_case(report, small, small.finding)
        self._save_sequence(report, small)

    def _replay(self, ops: list[Op]) -> Trace:
        return self.lockstep.run(ops=ops)

    def replay_operations(self, ops: list[Op]) -> Trace:
        """One stored sequence (findings/finding-NNN.json) run again on these servers."""
        try:
            return self.lockstep.run(ops=ops)
        finally:
            for lane in self.lanes:
                lane.end()

    def count_new(self) -> int:
        return self.summary.count("new")

    def _known(self, report: FindingReport, entry: KnownDivergence) -> None:
        report.status = "known"
        report.known = entry.to_dict()
        self.summary.known_hits[entry.id] = self.summary.known_hits.get(entry.id, 0) + 1

    def _save_sequence(self, report: FindingReport, trace: Trace) -> None:
        folder = self.settings.out_dir / "findings"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"finding-{report.number:03d}.json"
        steps = [{"op": s.op.to_dict(), "describe": s.op.describe(),
                  "observations": {lane: {a: render(i) for a, i in o.items()}
                                   for lane, o in s.observations.items()},
                  "skipped": s.skipped} for s in trace.steps]
        path.write_text(json.dumps({"finding": report.to_dict(),
                                    "operations": ops_to_json(trace.ops),
                                    "steps": steps}, indent=1) + "\n")
        report.sequence_file = str(path)

    def _expected(self, finding: Finding) -> str:
        """The server whose behaviour the case expects: the first one that kept the
        invariants, else the first."""
        for server in self.servers:
            if server.label not in finding.violations:
                return server.label
        return self.servers[0].label

    def _write_case(self, report: FindingReport, trace: Trace, finding: Finding) -> None:
        expected = self._expected(finding)
        report.expected_server = expected
        others = [s.label for s in self.servers if s.label != expected]
        said = "; ".join(f"{actor}: " + ", ".join(f"{srv} said {text}" for srv, text
                                                  in per.items())
                         for actor, per in report.said.items())
        broken = "; ".join(f"{srv}: {'; '.join(v)}" for srv, v in report.violations.items())
        description = (f"Found by gearcheck explore (seed {self.settings.seed}, sequence "
                       f"{report.sequence}; shrunk from {report.original_ops} to "
                       f"{report.shrunk_ops} operations). The steps expect what {expected} "
                       f"did. Signature: {report.signature}. At the last operation {said}."
                       + (f" Invariants broken: {broken}." if broken else ""))
        title = (f"explore finding {report.number}: {trace.steps[finding.step].op.trigger()} "
                 + (f"({expected} vs {', '.join(others)})" if others else f"on {expected}"))
        doc = case_document(trace, finding, number=report.number, expected=expected,
                            client_ids=self.client_ids, mixed_admin=self.mixed_admin,
                            sync_by_workers=self.sync_by_workers,
                            echo_fences="packet:ECHO_REQ" in self.capabilities, title=title,
                            description=description,
                            source=f"gearcheck explore --seed {self.settings.seed}: "
                                   f"{report.signature}")
        folder = self.settings.out_dir / "cases"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"finding-{report.number:03d}.yaml"
        path.write_text(f"# yaml-language-server: $schema={paths.SCENARIO_SCHEMA}\n"
                        "# Adopting it: copy into conformance/<area>/, give it a free id, a title"
                        " that states the requirement, a level and its source.\n"
                        + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True))
        report.case_file = str(path)
        scenarios, errors = load_file(path)
        if errors:
            report.engine = {"load": "; ".join(str(e) for e in errors)}
            return
        if self.settings.verify:
            for server in self.servers:
                result = run_case(scenarios[0], server.address,
                                  run_id=f"{self.lockstep.tag}v{report.number}",
                                  timing=Timing(rtt_s=server.profile.rtt_s or 0.0005,
                                                default_timeout_s=1.0),
                                  profile=server.profile)
                report.engine[server.label] = result.verdict.value

    # -- reports ---------------------------------------------------------------------
    def _write_summary(self) -> None:
        out = self.settings.out_dir
        (out / "summary.json").write_text(json.dumps(self.summary.to_dict(), indent=2) + "\n")
        (out / "summary.md").write_text(markdown(self.summary))


def _said(trace: Trace, finding: Finding) -> tuple[dict[str, dict[str, str]],
                                                    dict[str, list[str]]]:
    step = trace.steps[finding.step]
    actors = finding.difference.actors if finding.difference is not None else sorted(
        {a for o in step.observations.values() for a in o})
    said = {a: {lane: render(o.get(a, ())) for lane, o in step.observations.items()}
            for a in actors}
    violations = {lane: [f"{v.invariant}: {v.detail}" for v in found]
                  for lane, found in step.violations.items()}
    return said, violations


def markdown(summary: Summary) -> str:
    d = summary.to_dict()
    names = ", ".join(str(s["name"]) for s in summary.servers)
    lines = [f"# gearcheck explore: {names}", "",
             f"Seed {summary.seed}, {summary.sequences} sequences, {summary.steps} steps in "
             f"{summary.explore_s:.1f} s of exploring (+{summary.shrink_s:.1f} s confirming "
             f"and shrinking). Findings: {d['findings']}.", ""]
    if summary.excluded:
        lines += ["Not generated (not every server has it): "
                  + ", ".join(f"{c} ({', '.join(w)})" for c, w in summary.excluded.items()), ""]
    lines += ["| # | status | kind | signature | seen | shrunk | case | engine |",
              "|---|---|---|---|---|---|---|---|"]
    for f in summary.findings:
        known = f" ({f.known['id']})" if f.known else ""
        lines.append(f"| {f.number} | {f.status}{known} | {f.kind} | `{f.signature}` | "
                     f"{f.occurrences} | {f.original_ops}->{f.shrunk_ops or '-'} | "
                     f"{Path(f.case_file).name if f.case_file else '-'} | "
                     f"{', '.join(f'{k}={v}' for k, v in f.engine.items()) or '-'} |")
    return "\n".join(lines) + "\n"
