"""``gearcheck schema``: export the scenario JSON Schemas for editors (and check them).

Writes conformance/scenario.schema.json (conformance cases) and
conformance/mirrored.schema.json (mirrored scenarios: the harness as the
server, fixtures/interop/as-server) by default; ``--check`` exits 1 when a
checked-in file differs from what the engine would write, so CI notices a
schema change that was not exported. ``--output`` writes one schema
(``--mirrored`` picks the mirrored one; ``-`` is stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..engine.schema import scenario_schema, write_schema

DEFAULT_PATH = Path("conformance/scenario.schema.json")
MIRRORED_PATH = Path("conformance/mirrored.schema.json")


def _mirrored() -> dict[str, Any]:
    from ..interop.fake_server.script import schema

    return schema()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("schema", help="write the scenario JSON Schemas (for editors)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", "-o",
                   help=f"write one schema here ('-' for stdout); default: {DEFAULT_PATH} and "
                        f"{MIRRORED_PATH}")
    p.add_argument("--mirrored", action="store_true",
                   help="with --output: the mirrored schema instead of the conformance one")
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 if a file is missing or out of date")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output:
        targets = [(Path(args.output), _mirrored() if args.mirrored else scenario_schema())]
    else:
        targets = [(DEFAULT_PATH, scenario_schema()), (MIRRORED_PATH, _mirrored())]
    status = 0
    for path, schema in targets:
        if str(path) == "-":
            json.dump(schema, sys.stdout, indent=2)
            print()
            continue
        if args.check:
            expected = json.dumps(schema, indent=2) + "\n"
            current = path.read_text() if path.exists() else ""
            if current != expected:
                print(f"gearcheck schema: {path} is out of date; run `gearcheck schema`")
                status = 1
            else:
                print(f"gearcheck schema: {path} is up to date")
            continue
        write_schema(path, schema)
        print(f"gearcheck schema: wrote {path}")
    return status
