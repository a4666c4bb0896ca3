"""Baselines: the known failures of one server, each with its reason.

File format (fixtures/baselines/<server>.yaml)::

    server: gearmand 1.1.20            # optional, for people
    known_failures:                    # may be empty or absent
      - id: GM-WORK-009
        reason: WORK_EXCEPTION is terminal in gearmand; the later WORK_FAIL gets ERROR
        verdict: FAIL                  # optional: FAIL (default), NON-STRICT or UNSUPPORTED
        flaky: true                    # optional: the server shows this failure only now and then

Strategy: load with the position-keeping YAML loader so every problem is
reported as ``file:line: what is wrong`` (unknown keys, a missing reason, a
duplicated id, a verdict that cannot be expected). Applying a baseline never
touches the original: it returns a copy of the report in which each listed
case's verdict is compared with the one the entry expects:

    the expected verdict happened   FAIL -> XFAIL; NON-STRICT / UNSUPPORTED stay, marked
    the case did better              -> XPASS (the entry must go: the gate fails on it)
    the case did worse, or ERROR     -> unchanged (a new failure, or a run that could not judge)

"Better" means PASS over NON-STRICT over FAIL/UNSUPPORTED. A ``flaky`` entry is
for a server defect that depends on timing (gearmand's counters after a
CAN_DO_TIMEOUT race): when the case does better, it keeps its own verdict
instead of becoming XPASS, so the gate neither fails on it nor asks for the
entry to go; the evidence still says the entry was flaky and what happened. The verdict before
the baseline, the reason and the entry's file:line go into the case's
``evidence["baseline"]``, so applying another baseline later starts again
from the verdict the run really produced. Entries that match no case are
returned as stale.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..results import CaseResult, RunReport, Verdict
from ..yaml_positions import PosDict, PosList, load_documents, yaml_error_where

EXPECTABLE = (Verdict.FAIL, Verdict.NON_STRICT, Verdict.UNSUPPORTED)
ENTRY_KEYS = {"id", "reason", "verdict", "flaky"}
TOP_KEYS = {"server", "known_failures", "notes"}
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RANK = {Verdict.PASS: 2, Verdict.NON_STRICT: 1, Verdict.FAIL: 0, Verdict.UNSUPPORTED: 0}


class BaselineError(ValueError):
    """A baseline file cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class BaselineEntry:
    case_id: str
    reason: str
    verdict: Verdict = Verdict.FAIL
    flaky: bool = False
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Baseline:
    path: str
    server: str = ""
    entries: dict[str, BaselineEntry] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The parsed baseline as JSON data (how a run hands it to its xdist workers)."""
        return {"path": self.path, "server": self.server,
                "entries": [{"case_id": e.case_id, "reason": e.reason,
                             "verdict": e.verdict.value, "flaky": e.flaky, "file": e.file,
                             "line": e.line} for e in self.entries.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        entries = [BaselineEntry(e["case_id"], e["reason"], Verdict(e["verdict"]),
                                 bool(e["flaky"]), e["file"], int(e["line"]))
                   for e in data["entries"]]
        return cls(str(data["path"]), str(data["server"]), {e.case_id: e for e in entries})

    def judge_case(self, result: CaseResult) -> None:
        """Give ``result`` its baselined verdict, in place; the one place a verdict is judged.

        Starts from the verdict the run produced (undoing an earlier baseline), so
        judging twice, or with another baseline, gives the same answer as once.
        """
        before = verdict_before_baseline(result)
        result.evidence.pop("baseline", None)
        entry = self.entries.get(result.case_id)
        if entry is None:
            result.verdict = before
            return
        result.verdict = judge(before, entry.verdict, flaky=entry.flaky)
        result.evidence["baseline"] = {
            "reason": entry.reason, "expected": entry.verdict.value,
            "verdict_before": before.value, "file": entry.file, "line": entry.line}
        if entry.flaky:
            result.evidence["baseline"]["flaky"] = True

    def stale(self, case_ids: set[str]) -> list[BaselineEntry]:
        """Entries that match none of ``case_ids`` (the cases a run had to choose from)."""
        return [e for cid, e in self.entries.items() if cid not in case_ids]


def _fail(path: Path, line: int, message: str) -> BaselineError:
    return BaselineError(f"{path}:{line}: {message}")


def _entry(path: Path, item: object, line: int) -> BaselineEntry:
    if not isinstance(item, PosDict):
        raise _fail(path, line, "each known failure is a mapping with 'id' and 'reason', "
                    f"not {type(item).__name__}")
    unknown = sorted(set(item) - ENTRY_KEYS, key=str)
    if unknown:
        key = unknown[0]
        raise _fail(path, item.lines.get(key, item.line),
                    f"unknown key {key!r} (an entry has {sorted(ENTRY_KEYS)})")
    case_id = item.get("id")
    if not isinstance(case_id, str) or not CASE_ID.match(case_id):
        raise _fail(path, item.lines.get("id", item.line),
                    f"'id' must be a case id such as GM-ECHO-001, got {case_id!r}")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _fail(path, item.lines.get("reason", item.line),
                    f"{case_id}: 'reason' is required: say why this case is expected to fail")
    raw_verdict = item.get("verdict", Verdict.FAIL.value)
    try:
        verdict = Verdict(str(raw_verdict).upper())
    except ValueError:
        verdict = None
    if verdict not in EXPECTABLE:
        raise _fail(path, item.lines.get("verdict", item.line),
                    f"{case_id}: 'verdict' must be one of "
                    f"{[v.value for v in EXPECTABLE]}, got {raw_verdict!r}")
    flaky = item.get("flaky", False)
    if not isinstance(flaky, bool):
        raise _fail(path, item.lines.get("flaky", item.line),
                    f"{case_id}: 'flaky' is true or false, got {flaky!r}")
    return BaselineEntry(case_id, " ".join(reason.split()), verdict, flaky, str(path), item.line)


def parse_baseline(text: str, path: Path | str) -> Baseline:
    path = Path(path)
    try:
        documents = load_documents(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_where(exc)
        raise _fail(path, line, f"not valid YAML: {problem}") from exc
    if len(documents) > 1:
        raise _fail(path, 0, "a baseline is one YAML document, this file has several")
    doc = documents[0] if documents else PosDict()
    if not isinstance(doc, PosDict):
        raise _fail(path, getattr(doc, "line", 1),
                    "a baseline is a mapping with 'known_failures' (a list)")
    unknown = sorted(set(doc) - TOP_KEYS, key=str)
    if unknown:
        raise _fail(path, doc.lines.get(unknown[0], doc.line),
                    f"unknown key {unknown[0]!r} (a baseline has {sorted(TOP_KEYS)})")
    items = doc.get("known_failures") or PosList()
    if not isinstance(items, list):
        raise _fail(path, doc.lines.get("known_failures", doc.line),
                    "'known_failures' must be a list of entries")
    baseline = Baseline(str(path), str(doc.get("server") or ""))
    lines = getattr(items, "lines", [0] * len(items))
    for item, line in zip(items, lines, strict=True):
        entry = _entry(path, item, line)
        if entry.case_id in baseline.entries:
            first = baseline.entries[entry.case_id]
            raise _fail(path, entry.line,
                        f"{entry.case_id} is listed twice (first at line {first.line})")
        baseline.entries[entry.case_id] = entry
    return baseline


def load_baseline(path: Path | str) -> Baseline:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline ({exc.strerror or exc})") from exc
    return parse_baseline(text, path)


def verdict_before_baseline(result: CaseResult) -> Verdict:
    """The verdict the run produced, undoing any baseline applied earlier."""
    recorded = result.evidence.get("baseline")
    if isinstance(recorded, dict) and recorded.get("verdict_before"):
        return Verdict(recorded["verdict_before"])
    if result.verdict is Verdict.XFAIL:
        return Verdict.FAIL
    if result.verdict is Verdict.XPASS:
        return Verdict.PASS
    return result.verdict


def judge(actual: Verdict, expected: Verdict, *, flaky: bool = False) -> Verdict:
    """The verdict of a listed case whose run gave ``actual`` where ``expected`` was known."""
    if actual not in _RANK:  # ERROR (or anything else): the run could not judge
        return actual
    if actual is expected:
        return Verdict.XFAIL if actual is Verdict.FAIL else actual
    if _RANK[actual] > _RANK[expected]:
        return actual if flaky else Verdict.XPASS
    return actual


@dataclass
class AppliedBaseline:
    report: RunReport
    baseline: Baseline
    stale: list[BaselineEntry]


def _copy_for_verdicts(report: RunReport) -> RunReport:
    """A copy whose verdicts and evidence can change without touching ``report``.

    Transcripts (records of what happened, never edited) are shared rather than
    deep-copied: copying tens of thousands of entries took longer than the rest.
    """
    out = copy.copy(report)
    out.server = copy.deepcopy(report.server)
    out.results = [replace(r, evidence=copy.deepcopy(r.evidence), tags=list(r.tags),
                           expected=copy.deepcopy(r.expected), actual=copy.deepcopy(r.actual),
                           transcript=list(r.transcript)) for r in report.results]
    return out


def apply_baseline(report: RunReport, baseline: Baseline) -> AppliedBaseline:
    """A baselined copy of ``report`` (``report`` itself is untouched), and the stale entries."""
    out = _copy_for_verdicts(report)
    for result in out.results:
        baseline.judge_case(result)
    out.baseline = baseline.path
    stale = baseline.stale({r.case_id for r in out.results})
    return AppliedBaseline(out, baseline, stale)
