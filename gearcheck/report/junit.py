"""junit.xml: the run in the form CI systems (Jenkins, GitLab, GitHub test reporters) read.

Strategy: built with junitparser, so element names, attribute names and the
per-suite counts (tests, failures, errors, skipped, time) are the library's,
not hand-assembled strings. One ``<testsuite>`` per area inside a
``<testsuites>`` root. Each case is a ``<testcase>`` named by its id and title,
``classname`` ``conformance.<area>``. Verdicts map as strict consumers expect:

    PASS, NON-STRICT, XFAIL  -> passed (no child element)
    FAIL, XPASS              -> <failure>
    ERROR                    -> <error>
    UNSUPPORTED              -> <skipped>

The strict (Ant/Jenkins) schema has no ``<properties>`` under ``<testcase>``,
so the case metadata (id, level, source, verdict) goes into the suite's
``<properties>`` as ``<id>.level`` etc., and the run's server, version and
baseline into the same place; expected against actual and the tail of the
transcript go into the failure text and ``<system-out>``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, SystemOut, TestCase, TestSuite

from ..results import CaseResult, RunReport, Verdict
from ._text import clip

TRANSCRIPT_TAIL = 40  # transcript lines copied into <system-out> of a non-passing case


def _jsonish(value: object) -> str:
    try:
        return json.dumps(clip(value), ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def failure_text(result: CaseResult) -> str:
    lines = [result.message or result.verdict.value]
    if result.failure_kind:
        lines.append(f"kind: {result.failure_kind.value}")
    if result.failing_step is not None:
        lines.append(f"step: {result.failing_step}")
    if result.expected is not None or result.actual is not None:
        lines.append(f"expected: {_jsonish(result.expected)}")
        lines.append(f"actual:   {_jsonish(result.actual)}")
    reason = result.evidence.get("baseline", {}).get("reason") if isinstance(
        result.evidence.get("baseline"), dict) else None
    if reason:
        lines.append(f"baseline: {reason}")
    if result.file:
        lines.append(f"scenario: {result.file}:{result.line}")
    return "\n".join(lines)


def transcript_text(result: CaseResult, tail: int = TRANSCRIPT_TAIL) -> str:
    entries = result.transcript[-tail:]
    skipped = len(result.transcript) - len(entries)
    out = [f"... {skipped} earlier transcript entries in report.json"] if skipped else []
    for e in entries:
        arrow = {"send": "->", "recv": "<-"}.get(e.direction, "..")
        out.append(f"{e.t:9.4f} {e.actor:>8} {arrow} {_jsonish(e.summary)}")
    return "\n".join(out)


def _testcase(result: CaseResult) -> TestCase:
    case = TestCase(f"{result.case_id} {result.title}".strip(), f"conformance.{result.area}",
                    round(result.duration_s, 6))
    v = result.verdict
    entry: Failure | Error | Skipped
    if v in (Verdict.FAIL, Verdict.XPASS):
        entry = Failure(result.message or v.value, v.value)
    elif v is Verdict.ERROR:
        entry = Error(result.message or "harness error", v.value)
    elif v is Verdict.UNSUPPORTED:
        entry = Skipped(result.message or "capability not supported by the server", v.value)
    else:
        return case
    if v is not Verdict.UNSUPPORTED:
        entry.text = failure_text(result)
    case.result = [entry]
    if result.transcript and v is not Verdict.UNSUPPORTED:
        case.append(SystemOut(transcript_text(result)))
    return case


def build_junit(report: RunReport) -> JUnitXml:
    by_area: dict[str, list[CaseResult]] = defaultdict(list)
    for result in report.results:
        by_area[result.area or "unknown"].append(result)
    xml = JUnitXml(f"gearcheck conformance: {report.server.name or report.server.address}")
    for area in sorted(by_area):
        suite = TestSuite(f"conformance.{area}")
        suite.hostname = report.server.address
        if report.started_at:
            suite.timestamp = report.started_at
        suite.add_property("server", report.server.address)
        suite.add_property("server.name", report.server.name or "")
        suite.add_property("server.version", report.server.version or "")
        if report.baseline:
            suite.add_property("baseline", report.baseline)
        for result in by_area[area]:
            suite.add_property(f"{result.case_id}.level", result.level)
            suite.add_property(f"{result.case_id}.verdict", result.verdict.value)
            if result.source:
                suite.add_property(f"{result.case_id}.source", result.source)
            suite.add_testcase(_testcase(result))
        suite.update_statistics()
        xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def write_junit(report: RunReport, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_junit(report).write(str(path), pretty=True)
    return path
