"""Turn the recorded exchange of chosen connections into a conformance case.

The connections' packets become send and expect steps in the suite's format
(docs/scenario-format.md): handles captured, function names and unique ids the
run's own, waits with room to spare. Run it like any case:
gearcheck conformance case.yaml --server HOST:PORT --no-baseline. The case is
loaded by the engine's loader before it is written. Exit 0 written, 2 it could
not be.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml

from ..engine.loader import load_file
from ..engine.schema import ID_PATTERN
from ..record.case import CaseError, build_case, parse_connections
from ..record.trace import TraceError, read_trace

EXIT_OK, EXIT_HARNESS = 0, 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay-case", help="turn recorded connections into a conformance case",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trace", help="a trace from gearcheck record (trace.jsonl)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the case to write")
    p.add_argument("--connections", default=None, metavar="LIST",
                   help="which connections (the trace's conn numbers: 1,3,5-7; default: all)")
    p.add_argument("--id", default="GM-REPLAY-001", help="the case id (GM-AREA-NNN)")
    p.add_argument("--title", default=None, help="the case title")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gearcheck replay-case: {message}", file=sys.stderr)
    return EXIT_HARNESS


def run(args: argparse.Namespace) -> int:
    if not re.match(ID_PATTERN, args.id):
        return _fail(f"--id {args.id!r} is not a case id like GM-REPLAY-001 (GM-AREA-NNN)")
    try:
        trace = read_trace(args.trace)
        chosen = (parse_connections(args.connections, trace.connections())
                  if args.connections else None)
        case = build_case(trace, chosen, case_id=args.id, title=args.title)
    except (TraceError, CaseError) as exc:
        return _fail(str(exc))
    text = render(case, args.trace)
    problems = check(text)
    if problems:  # a bug here, never the user's: say so plainly
        return _fail("the case does not load:\n" + "\n".join(problems))
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    sends = sum(1 for s in case["steps"] if "send" in s)
    expects = sum(1 for s in case["steps"] if "expect" in s)
    print(f"{out}: {case['id']} with {len(case['steps'])} steps ({sends} sends, {expects} "
          f"expects); run it with gearcheck conformance {out} --server HOST:PORT")
    return EXIT_OK


def render(case: dict[str, object], trace: str) -> str:
    head = f"# Made by gearcheck replay-case from {trace}.\n"
    return head + yaml.safe_dump(case, sort_keys=False, default_flow_style=None,
                                 allow_unicode=True, width=100)


def check(text: str) -> list[str]:
    """The loader's errors for the case text (empty when it loads)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.yaml"
        path.write_text(text, encoding="utf-8")
        _scenarios, errors = load_file(path, display="case.yaml")
    return [str(e) for e in errors]
