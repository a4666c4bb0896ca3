"""Derive a load profile from a recorded trace, for gearcheck load to replay.

The profile holds the recording's function mix, foreground/background and
priority shares, payload and result size distributions, arrival rate over time
(open-model stages), workers per function and their service times, and the
recorded figures; gearcheck load --profile FILE [--speed K] plays it and sets
the replay next to the recording. Payload bytes are copied only with
--keep-payloads. The profile is checked against the profile schema before it
is written. Exit 0 written, 2 the trace could not be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from ..record.derive import DeriveError, Options, derive_profile
from ..record.jobs import analyse
from ..record.trace import TraceError, read_trace
from ..swarm.profile import ProfileError, parse_profile

EXIT_OK, EXIT_HARNESS = 0, 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay-profile", help="derive a load profile from a recorded trace",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trace", help="a trace from gearcheck record (trace.jsonl)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the profile to write")
    p.add_argument("--name", default=None, help="profile name (default: replay-<trace name>)")
    p.add_argument("--keep-payloads", action="store_true",
                   help="copy the recorded payload bytes into the profile (default: sizes only)")
    p.add_argument("--poisson", action="store_true",
                   help="Poisson arrivals within each stage (default: evenly spaced, which "
                        "replays each stage's count exactly)")
    p.add_argument("--tolerance", type=float, default=0.05, metavar="FRACTION",
                   help="the profile's max_replay_deviation threshold (default 0.05)")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gearcheck replay-profile: {message}", file=sys.stderr)
    return EXIT_HARNESS


def run(args: argparse.Namespace) -> int:
    if args.tolerance < 0:
        return _fail(f"--tolerance must not be negative, not {args.tolerance:g}")
    try:
        trace = read_trace(args.trace)
    except TraceError as exc:
        return _fail(str(exc))
    options = Options(name=args.name, keep_payloads=args.keep_payloads, poisson=args.poisson,
                      tolerance=args.tolerance)
    try:
        profile = derive_profile(analyse(trace), options)
    except DeriveError as exc:
        return _fail(str(exc))
    text = render(profile, args.trace)
    try:
        parse_profile(text, args.output)
    except ProfileError as exc:  # a bug here, never the user's: say so plainly
        return _fail(f"the derived profile does not pass the profile schema:\n{exc}")
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    rec = profile["recorded"]
    print(f"{out}: {rec['submissions']} submissions over {rec['duration_s']:.1f}s "
          f"({rec['rate_per_s']:.2f}/s) in {len(profile['stages'])} stage(s), "
          f"{len(profile['clients'])} client mix(es), {len(profile['workers'])} worker mix(es)")
    for note in options.notes:
        print(f"  note: {note}")
    return EXIT_OK


def render(profile: dict[str, object], trace: str) -> str:
    head = (f"# Derived by gearcheck replay-profile from {trace}.\n"
            f"# Play it: gearcheck load --profile THIS_FILE [--speed K] [--server HOST:PORT]\n")
    return head + yaml.safe_dump(profile, sort_keys=False, default_flow_style=None,
                                 allow_unicode=True, width=100)
