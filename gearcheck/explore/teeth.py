"""The teeth of explore: every one-defect mutant of a server must be told from the real thing.

Strategy: two copies of the server are started. One sits behind a mutating
proxy with one mutation at a time (the caller passes the proxy and the
mutations in: gearcheck/robustness/mutant_proxy.py and mutations.py, wired by
the explore command, since a sibling package's insides are not ours to
import); explore then runs the mutant against the clean copy with the same
seed and time budget each, and stops at its first new finding. The capability
profile is probed once through the clean proxy and reused for every mutant (as
the mutants command does), so a mutation that hides a packet shows as a
divergence, not as a feature the server lacks. A control run through the clean
proxy comes first: it must find nothing, which shows the proxy and the
explorer add no difference of their own. A mutant is found when its run
reports a new or unconfirmed finding; the time to it (in seconds of exploring)
is recorded per mutation.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

from ..engine.probe import probe_server
from ..targets import find, load_registry, open_target
from ..wire import Address
from .known import load_known
from .lane import LaneOptions
from .run import Explorer, ExploreSettings, Server, Summary

CONTROL_S = 20.0

ProxyFactory = Callable[[Address, "str | None"], AbstractContextManager[Address]]
"""proxy(upstream, mutation name or None for the clean proxy) -> the proxy's address."""


def _explore(servers: list[Server], seconds: float, seed: int, out_dir: Path,
             lane: LaneOptions, stop: bool) -> Summary:
    settings = ExploreSettings(seconds=seconds, seed=seed, out_dir=out_dir, shrink=False,
                               verify=False, stop_after_new=1 if stop else None, lane=lane)
    return Explorer(servers, settings, load_known()).run()


def sweep(server: str, mutations: list[tuple[str, str]], proxy: ProxyFactory, *,
          seconds: float, seed: int, out_dir: Path, lane: LaneOptions | None = None,
          control_s: float = CONTROL_S,
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``mutations``: (name, defect) pairs, each applied by ``proxy`` in front of ``server``."""
    lane = lane or LaneOptions()
    implementation = find(load_registry(), server).name
    out_dir.mkdir(parents=True, exist_ok=True)
    per: list[dict[str, Any]] = []
    with ExitStack() as stack:
        upstream = open_target(server, log_dir=out_dir / "servers" / "upstream")
        stack.callback(upstream.stop)
        clean = open_target(server, log_dir=out_dir / "servers" / "clean")
        stack.callback(clean.stop)
        upstream.start()
        clean.start()
        clean_server = Server(implementation, implementation,
                              probe_server(clean.address, "gxteethc"), clean.address)
        with proxy(upstream.address, None) as clean_proxy:
            proxied = probe_server(clean_proxy, "gxteethp")
            control = _explore([Server("clean-proxy", "", proxied, clean_proxy),
                                clean_server], control_s, seed, out_dir / "control", lane,
                               stop=False)
        if progress:
            progress(f"control (clean proxy vs {implementation}, {control_s:.0f} s): "
                     f"{control.count('new') + control.count('unconfirmed')} finding(s), "
                     f"{control.steps} steps")
        for name, defect in mutations:
            with proxy(upstream.address, name) as mutant:
                summary = _explore([Server(f"mutant-{name}", "", proxied, mutant),
                                    clean_server],
                                   seconds, seed, out_dir / "mutants" / name, lane, stop=True)
            first = next((f for f in summary.findings if f.status in ("new", "unconfirmed")),
                         None)
            if first is not None and first.kind == "invariant" and \
                    implementation in first.violations:
                first = None  # the clean server broke it too: not the mutation's doing
            row = {"mutation": name, "defect": defect,
                   "found": first is not None, "seconds": summary.first_new_s,
                   "sequences": summary.sequences, "steps": summary.steps,
                   "signature": first.signature if first else None}
            per.append(row)
            if progress:
                progress(f"{name}: " + (f"found in {summary.first_new_s:.1f} s "
                                                 f"({first.signature})" if first else
                                                 f"NOT found in {seconds:.0f} s"))
    found = [r for r in per if r["found"]]
    times = [r["seconds"] for r in found if r["seconds"] is not None]
    result: dict[str, Any] = {
        "server": implementation, "seed": seed, "seconds_per_mutation": seconds,
        "control": {"seconds": control_s, "steps": control.steps,
                    "findings": control.count("new") + control.count("unconfirmed"),
                    "signatures": [f.signature for f in control.findings
                                   if f.status in ("new", "unconfirmed")]},
        "mutations": len(per), "found": len(found),
        "not_found": [r["mutation"] for r in per if not r["found"]],
        "median_s": round(statistics.median(times), 2) if times else None,
        "max_s": round(max(times), 2) if times else None,
        "per_mutation": per}
    (out_dir / "mutants.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "mutants.md").write_text(_markdown(result))
    return result


def _markdown(result: dict[str, Any]) -> str:
    lines = [f"# explore teeth: {result['found']}/{result['mutations']} mutants of "
             f"{result['server']} found (seed {result['seed']}, "
             f"{result['seconds_per_mutation']:.0f} s each)", "",
             f"Control, clean proxy vs {result['server']} for "
             f"{result['control']['seconds']:.0f} s: {result['control']['findings']} "
             f"finding(s) in {result['control']['steps']} steps.", "",
             "| mutation | defect | found after (s) | signature |", "|---|---|---|---|"]
    for r in result["per_mutation"]:
        when = f"{r['seconds']:.1f}" if r["found"] and r["seconds"] is not None else "**no**"
        lines.append(f"| {r['mutation']} | {r['defect']} | {when} | "
                     f"`{r['signature'] or '-'}` |")
    return "\n".join(lines) + "\n"
