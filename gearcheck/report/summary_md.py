"""summary.md: a few lines of Markdown for a CI job summary ($GITHUB_STEP_SUMMARY).

Strategy: the headline (server, version, the one-word outcome), a single
table of verdict counts per level, and a bounded list of the cases that need
attention (FAIL, XPASS, ERROR) with their one-sentence message. Everything
else is in report.html, which the summary points to; the list is cut at
``MAX_LISTED`` cases so the summary stays small however badly a run goes.
"""

from __future__ import annotations

from pathlib import Path

from ..results import RunReport, Verdict

MAX_LISTED = 25
LEVEL_ORDER = ("MUST", "SHOULD", "OBSERVED")
ATTENTION = (Verdict.FAIL, Verdict.XPASS, Verdict.ERROR)


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def outcome(report: RunReport) -> str:
    counts = report.counts()
    if counts[Verdict.FAIL.value] or counts[Verdict.XPASS.value]:
        return "FAILED"
    if counts[Verdict.ERROR.value]:
        return "INCOMPLETE"
    return "PASSED"


def residue_sentence(cleanup: dict[str, object]) -> str:
    """One sentence on what the run left on the server (empty when the report has no word)."""
    if not cleanup or not cleanup.get("left_checked"):
        return ""
    left = cleanup.get("left") or []
    assert isinstance(left, list)
    if not left:
        return "Left on the server: nothing (its status lists no function of this run)."
    named = ", ".join(f"`{e['function']}` ({e.get('case', '?')})" for e in left[:5])
    more = f" and {len(left) - 5} more" if len(left) > 5 else ""
    why = cleanup.get("cannot_forget") or "; ".join(sorted({str(e["reason"]) for e in left}))
    return f"Left on the server: {len(left)} function(s) of this run, {named}{more}: {why}."


def render_summary(report: RunReport, html_link: str | None = "report.html") -> str:
    server = report.server
    name = server.name or server.address
    version = f" {server.version}" if server.version else ""
    lines = [f"## gearcheck conformance: {name}{version} — {outcome(report)}", ""]
    lines.append(f"{len(report.results)} cases against `{server.address}` in "
                 f"{report.duration_s:.1f} s" + (f", baseline `{report.baseline}`"
                                                  if report.baseline else "") + ".")
    lines.append("")
    left = residue_sentence(report.cleanup)
    if left:
        lines += [left, ""]
    verdicts = [v for v in Verdict if any(r.verdict is v for r in report.results)]
    levels = sorted({r.level for r in report.results},
                    key=lambda lv: (LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else 99, lv))
    if verdicts:
        lines.append("| level | " + " | ".join(v.value for v in verdicts) + " |")
        lines.append("|---|" + "---:|" * len(verdicts))
        for level in levels:
            row = [sum(1 for r in report.results if r.level == level and r.verdict is v)
                   for v in verdicts]
            lines.append(f"| {level} | " + " | ".join(str(n) for n in row) + " |")
        lines.append("")
    attention = [r for r in report.results if r.verdict in ATTENTION]
    if attention:
        lines.append("| case | level | verdict | what happened |")
        lines.append("|---|---|---|---|")
        for r in attention[:MAX_LISTED]:
            lines.append(f"| `{r.case_id}` | {r.level} | **{r.verdict.value}** | "
                         f"{_cell(r.message or r.title)} |")
        if len(attention) > MAX_LISTED:
            lines.append("")
            lines.append(f"…and {len(attention) - MAX_LISTED} more.")
        lines.append("")
    if html_link:
        lines.append(f"Details, expected against actual and transcripts: `{html_link}`.")
    return "\n".join(lines) + "\n"


def write_summary(report: RunReport, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary(report), encoding="utf-8")
    return path
