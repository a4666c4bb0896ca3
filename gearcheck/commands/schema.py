"""Write the JSON Schemas of scenario files, for editors that check YAML as you type.

Writes scenario.schema.json (conformance cases) and mirrored.schema.json
(mirrored scenarios: the harness as the server) into --out (default: the
current folder). --check exits 1 when the copies gearcheck ships (conformance/
in a checkout) differ from what the engine would write, so CI notices a schema
change that was not exported (gearcheck schema --out conformance). --output
writes one schema to a file (--mirrored picks the mirrored one; - is stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import paths
from ..engine.schema import scenario_schema, write_schema

NAMES = ("scenario.schema.json", "mirrored.schema.json")


def _mirrored() -> dict[str, Any]:
    from ..interop.fake_server.script import schema

    return schema()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("schema", help="write the scenario JSON Schemas (for editors)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help=f"folder to write {NAMES[0]} and {NAMES[1]} to (default: here)")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="write one schema to this file instead ('-' for stdout)")
    p.add_argument("--mirrored", action="store_true",
                   help="with --output: the mirrored schema instead of the conformance one")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a shipped schema is missing or out of date")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output:
        targets = [(Path(args.output), _mirrored() if args.mirrored else scenario_schema())]
    else:
        folder = paths.SUITE_DIR if args.check else args.out
        targets = [(folder / NAMES[0], scenario_schema()), (folder / NAMES[1], _mirrored())]
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
                print(f"gearcheck schema: {path} is out of date; run `gearcheck schema --out "
                      f"{path.parent}`")
                status = 1
            else:
                print(f"gearcheck schema: {path} is up to date")
            continue
        write_schema(path, schema)
        print(f"gearcheck schema: wrote {path}")
    return status
