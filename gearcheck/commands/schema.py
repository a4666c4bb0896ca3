"""``gearcheck schema``: export the scenario JSON Schema for editors (and check it).

Writes conformance/scenario.schema.json by default; ``--check`` exits 1 when
the checked-in file differs from what the engine would write, so CI notices a
schema change that was not exported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..engine.schema import scenario_schema, write_schema

DEFAULT_PATH = Path("conformance/scenario.schema.json")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("schema", help="write the scenario JSON Schema (for editors)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", "-o", default=str(DEFAULT_PATH),
                   help=f"where to write it ('-' for stdout; default {DEFAULT_PATH})")
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 if the file is missing or out of date")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output == "-":
        json.dump(scenario_schema(), sys.stdout, indent=2)
        print()
        return 0
    path = Path(args.output)
    if args.check:
        expected = json.dumps(scenario_schema(), indent=2) + "\n"
        current = path.read_text() if path.exists() else ""
        if current != expected:
            print(f"gearcheck schema: {path} is out of date; run `gearcheck schema`")
            return 1
        print(f"gearcheck schema: {path} is up to date")
        return 0
    write_schema(path)
    print(f"gearcheck schema: wrote {path}")
    return 0
