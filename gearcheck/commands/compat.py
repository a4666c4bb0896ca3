"""Combine the matrix and interop reports into one compatibility table.

Reads MATRIX/matrix.json (make matrix), INTEROP/interop.json and
INTEROP/libraries/*/report.json (make interop), whichever exist, and writes
OUT/index.html (implementations down, protocol areas and features across, each
cell linking to its evidence), OUT/compat.json and OUT/summary.md (the short
table the README carries). It runs nothing itself. Exit 0 when the page was
written, 2 when there was nothing to combine or a report could not be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..report.compat import CompatError, write_compat


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("compat", help="combine the matrix and interop reports into one table",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--matrix", metavar="DIR", default="reports/matrix",
                   help="folder of matrix.json (default reports/matrix)")
    p.add_argument("--interop", metavar="DIR", default="reports/interop",
                   help="folder of interop.json and libraries/ (default reports/interop)")
    p.add_argument("--out", metavar="DIR", default="reports/compat",
                   help="output folder (default reports/compat)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        written = write_compat(Path(args.out), Path(args.matrix), Path(args.interop))
    except CompatError as exc:
        print(f"gearcheck compat: {exc}", file=sys.stderr)
        return 2
    print(f"gearcheck compat: {written.html} ({written.json}, {written.markdown})")
    return 0
