"""What pytest prints for a case that did not pass: the verdict, where, and the evidence.

Strategy: one function turns a ``CaseResult`` into the text of its pytest
failure (headline, the step's file:line, each field that differs when there
are several, expected against actual, the last transcript entries);
``CaseFailed`` carries that text, so the plugin's ``repr_failure`` prints it
as it is instead of a Python traceback.
"""

from __future__ import annotations

import json

from ..results import CaseResult

SHOWN_DIFFERENCES = 12


class CaseFailed(Exception):
    def __init__(self, result: CaseResult, headline: str | None = None) -> None:
        self.text = (headline + "\n" if headline else "") + format_result(result)
        super().__init__(self.text)


def format_result(result: CaseResult, transcript_lines: int = 30) -> str:
    lines = [f"{result.case_id} {result.verdict.value}"
             + (f" ({result.failure_kind.value})" if result.failure_kind else "")
             + f": {result.message}",
             f"  at {result.file}:{result.evidence.get('step_line', result.line)} "
             f"{result.evidence.get('step', '')}"]
    differences = result.evidence.get("differences") or []
    if len(differences) > 1:
        lines.append("  differs:")
        lines += [f"    {d['field'] or '(the packet)'}: expected {d['expected']}, "
                  f"got {d['actual']}" for d in differences[:SHOWN_DIFFERENCES]]
        if len(differences) > SHOWN_DIFFERENCES:
            lines.append(f"    ... {len(differences) - SHOWN_DIFFERENCES} more (report.json)")
    if result.expected is not None:
        lines.append(f"  expected: {json.dumps(result.expected, default=str)}")
    if result.actual is not None:
        lines.append(f"  actual:   {json.dumps(result.actual, default=str)}")
    if result.transcript:
        lines.append("  transcript (last entries):")
        for e in result.transcript[-transcript_lines:]:
            what = e.summary.get("type") or e.summary.get("line") or e.summary.get("note") \
                or e.summary
            args = e.summary.get("args")
            lines.append(f"    {e.t:9.4f} {e.actor:>8} {e.direction:<4} {what}"
                         + (f" {args}" if args else ""))
    return "\n".join(lines)
