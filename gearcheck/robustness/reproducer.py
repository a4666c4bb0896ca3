"""A fuzz finding saved so anyone can replay it: raw hex plus a YAML scenario.

Strategy: the hex file is the exact bytes, one line, for tools and eyes; the
YAML file is a conformance case in the engine's scenario format (connect,
send the raw bytes with the same chunking, close, then a fresh sentinel
connection must get its ECHO answered), so a finding becomes a regression
case by copying the file into conformance/. Several connections at once are
spelled as several actors.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .fuzz_exec import FuzzInput

_MAX_ACTORS = 64


def scenario(number: int, kind: str, detail: str, inp: FuzzInput, *, server: str,
             deadline_s: float) -> dict[str, object]:
    actors = [f"fuzz{i}" for i in range(min(inp.connections, _MAX_ACTORS))] or ["fuzz0"]
    send: dict[str, object] = {"raw": inp.payload.hex()}
    if inp.chunk_size:
        send["chunk"] = inp.chunk_size
    steps: list[dict[str, object]] = [{"connect": actors}]
    steps += [{"send": {"on": a, **send}} for a in actors]
    steps.append({"close": actors})
    steps += [
        {"connect": "sentinel"},
        {"send": {"on": "sentinel", "packet": "ECHO_REQ", "args": {"data": "still-alive"}}},
        {"expect": {"on": "sentinel", "packet": "ECHO_RES", "args": {"data": "still-alive"},
                    "timeout": deadline_s}},
    ]
    return {
        "id": f"GM-FUZZ-{number:03d}",
        "title": f"fuzz finding {number}: server {kind} after a {inp.kind} input",
        "level": "MUST",
        "source": "GM-ERR-005 / GM-FAULT-007: bad input on one connection must not crash "
                  "the server or disturb other connections",
        "description": f"Found by gearcheck fuzz against {server}: {detail}. "
                       f"Input ({inp.ending} after sending): {inp.describe()}",
        "tags": ["fuzz", kind],
        "steps": steps,
    }


def save_reproducer(out_dir: Path, number: int, kind: str, detail: str, inp: FuzzInput, *,
                    server: str, deadline_s: float) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"finding-{number:03d}-{kind}"
    hex_path = stem.with_suffix(".hex")
    hex_path.write_text(inp.payload.hex() + "\n")
    yaml_path = stem.with_suffix(".yaml")
    doc = scenario(number, kind, detail, inp, server=server, deadline_s=deadline_s)
    yaml_path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
    return [str(hex_path), str(yaml_path)]
