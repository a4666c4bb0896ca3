"""Fill a server's queue and drain it again and again: does memory come back, does a job stick?

Each cycle submits --jobs background jobs, then drains them with one worker;
the server's RSS is read when full and after each drain. PASS when the RSS
after the last drain is back within 10% (+4 MiB) of the RSS after the first
drain and no job stays stuck or refused. Writes OUT/soak.json. Exit 0 pass,
1 fail, 2 the server could not run or bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..chaos.soak import soak
from ..targets import is_address
from ..targets.configs import QUEUE_BACKENDS
from ._options import add_out, count, positive_int, server
from ._options import out_dir as out_dir_of


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("soak", help="fill-and-drain cycles: memory back to baseline, stuck jobs",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", type=server, required=True, metavar="NAME",
                   help="a registered server (fixtures/servers.yaml), started and stopped here")
    p.add_argument("--backend", choices=QUEUE_BACKENDS, help="the persistent queue's back end")
    p.add_argument("--cycles", type=positive_int, default=5, metavar="N",
                   help="fill-and-drain cycles, at least 2 (default 5)")
    p.add_argument("--jobs", type=positive_int, default=10_000, metavar="N",
                   help="jobs per cycle (default 10000)")
    p.add_argument("--payload", type=count, default=512, metavar="BYTES",
                   help="payload bytes (default 512)")
    add_out(p, "soak")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_address(args.server):
        print("gearcheck soak: --server must name a registered server: RSS is read from the "
              "process gearcheck starts", file=sys.stderr)
        return 2
    for name, value, low, high in (("--cycles", args.cycles, 2, 1000),
                                   ("--jobs", args.jobs, 1, 10_000_000),
                                   ("--payload", args.payload, 0, 1 << 20)):
        if not low <= value <= high:
            print(f"gearcheck soak: {name} must be in [{low}, {high}], got {value}",
                  file=sys.stderr)
            return 2
    out_dir = out_dir_of(args, "soak")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = soak(args.server, args.backend, cycles=args.cycles, jobs=args.jobs,
                  payload=args.payload, out_dir=out_dir,
                  progress=lambda m: print(m, file=sys.stderr, flush=True))
    (out_dir / "soak.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    mib = [f"{r / (1 << 20):.1f}" if r else "?" for r in result.rss_drained]
    print(f"soak {args.server} ({result.backend or 'memory'}): {result.verdict}; RSS after "
          f"each drain (MiB): {', '.join(mib)}; back to baseline: {result.returned}; "
          f"stuck {result.stuck}, refused {result.refused}"
          + (f"; {result.error}" if result.error else ""))
    print(f"report: {out_dir / 'soak.json'}")
    return {"PASS": 0, "FAIL": 1}.get(result.verdict, 2)
