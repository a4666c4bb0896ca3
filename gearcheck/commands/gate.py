"""Judge a conformance report.json against a baseline: the exit code CI gates on.

Reads report.json (schema-checked), applies the baseline if one is given,
prints one line per case that needs attention and a closing summary line, and
exits 0 when every gated case passed or failed as the baseline expects, 1 on a
new failure or an XPASS (an expected failure that now passes), 2 when the run
could not be judged. --write DIR writes the baselined report (JSON, JUnit,
HTML, summary, pcaps) so CI can publish the gated view; --summary FILE appends
the Markdown summary (give it $GITHUB_STEP_SUMMARY).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..report.baseline import BaselineError, apply_baseline, load_baseline
from ..report.gate import ALL_LEVELS, EXIT_HARNESS, evaluate
from ..report.json_report import ReportFormatError, load_report
from ..report.summary_md import render_summary
from ._options import existing_file


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("gate", help="exit 0/1/2 from a conformance report and a baseline",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", type=existing_file, help="report.json of a conformance run")
    p.add_argument("--baseline", metavar="FILE", type=existing_file,
                   help="known failures (fixtures/baselines/<server>.yaml)")
    p.add_argument("--levels", default=",".join(ALL_LEVELS),
                   help="comma-separated levels that can fail the gate (default: all)")
    p.add_argument("--strict-baseline", action="store_true",
                   help="baseline entries that match no case fail the gate")
    p.add_argument("--strict-unsupported", action="store_true",
                   help="UNSUPPORTED cases fail the gate unless the baseline lists them")
    p.add_argument("--write", metavar="DIR", help="write the baselined report set to DIR")
    p.add_argument("--summary", metavar="FILE",
                   help="append the Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        report = load_report(args.report)
        applied = apply_baseline(report, load_baseline(args.baseline)) if args.baseline else None
    except (ReportFormatError, BaselineError) as exc:
        print(f"gearcheck gate: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    levels = tuple(lv.strip().upper() for lv in args.levels.split(",") if lv.strip())
    outcome = evaluate(report, applied, levels=levels, strict_baseline=args.strict_baseline,
                       strict_unsupported=args.strict_unsupported)
    gated_report = applied.report if applied else report
    name = gated_report.server.name or gated_report.server.address
    print(f"gearcheck gate: {args.report} ({name}, {len(gated_report.results)} cases)"
          + (f", baseline {args.baseline} ({len(applied.baseline.entries)} entries)"
             if applied else ""))
    for line in outcome.lines():
        print(f"  {line}")
    print(f"gearcheck gate: {outcome.summary()}")
    if args.write:
        from ..report.writers import write_all  # scapy and jinja2 only when asked

        write_all(gated_report, Path(args.write))
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as fh:
            fh.write(render_summary(gated_report) + f"\nGate: {outcome.summary()}\n")
    return outcome.exit_code
