"""Benchmark: gearcheck's reference server against gearmand, one generator (the swarm), one run.

    python bench/refserver_vs_gearmand.py            # or: make bench-server
    python bench/refserver_vs_gearmand.py --duration 3 --repeat 1 --levels 0,100000   # quicker

The load is the Locust swarm itself (``gearcheck load`` of generated profiles,
workers that keep one GRAB_JOB_UNIQ outstanding as real worker libraries do),
so a server's figures here are what the harness measures everywhere else.

Fairness on one machine: with ``--pin split`` (the default when there are at
least two cores) each server runs alone on CPU 0 and the Locust processes on
the others, so a multi-threaded server is not favoured by the scheduler and
neither side takes the other's core; every row reports the CPU share each side
got and generator CPU per job, so a generator near 100% of its core shows that
the generator, not the server, set the figure. ``--pin none`` leaves both to the
scheduler. Both servers run with their own defaults (gearmand's log level is
its default ERROR; the reference server's is warning), each fresh for every
run, on loopback, started through the harness's registry.

What it measures, for each server:
1. Foreground jobs/s at each ``--clients`` level: that many client users with
   ``--window`` jobs in flight each and ``--workers-per-client`` worker users for
   each (4: as many GRAB_JOB_UNIQ outstanding as the hand-written generator this
   replaced kept, with one per worker as libraries do), no service
   time, rounds alternating between the servers (``--repeat``; medians count),
   with the server's CPU microseconds per job (steadier than the rate on a busy
   machine), the median latency and the CPU share each side got.
2. Background submissions/s as the queue grows: one run of ``--bg-seconds``
   with 8 client users x 500 pipelined SUBMIT_JOB_BG (100-byte payload, a
   random 32-character unique each, no workers), the rate in the first full
   second at or above each ``--levels`` depth, and the rate over the whole run.
3. Memory: server RSS growth per queued background job after that run.

Prints a table with the ratio reference/gearmand (of the medians, and for the
foreground rows also round by round: the two runs of a round are back to back, so
their ratio is not moved by the machine's slow drift, and the range of these
ratios shows how much one comparison is worth on this machine) and writes the
figures as JSON under reports/bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gearcheck.swarm.cpu import pin
from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget, ProcessTarget, open_target

ROOT = Path(__file__).resolve().parent.parent
console = Console()

FG = """\
name: bench-fg-{clients}
duration: {duration}s
users: {clients}
drain_timeout: 10s
clients:
  - name: fg
    functions: [bench_fg]
    payload_bytes: 100
    in_flight: {window}
workers:
  - name: w
    count: {workers}
    functions: [bench_fg]
thresholds: {{}}
"""

BG = """\
name: bench-bg
duration: {duration}s
users: 8
drain_timeout: 1s
clients:
  - name: bg
    functions: [bench_bg]
    background: 1.0
    unique: {{policy: random}}
    payload_bytes: 100
    in_flight: 500
thresholds: {{}}
"""


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        cores = sorted(os.sched_getaffinity(0))
        self.server_cpus: set[int] | None = None
        self.swarm_cpus: set[int] | None = None
        if args.pin == "split" and len(cores) >= 2:
            self.server_cpus, self.swarm_cpus = {cores[0]}, set(cores[1:])

    def _run(self, name: str, text: str, label: str,
             before: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        path = self.root / f"{label}.yaml"
        path.write_text(text)
        target = open_target(name, log_dir=self.root / "servers")
        with target:
            assert isinstance(target, ProcessTarget) and target.pid is not None
            if self.server_cpus:
                pin(target.pid, self.server_cpus)
            extra: dict[str, Any] = {}
            if before is not None:
                extra["rss0"] = rss_bytes(target.pid)
            result = run_load(path, server=str(target.address), out_root=self.root,
                              run_name=label, quiet=True, cpus=self.swarm_cpus,
                              workers=self.args.processes)
            if before is not None:
                extra["rss1"] = rss_bytes(target.pid)
        if result.summary is None:
            raise RuntimeError(f"{label} on {name}: the run failed: {result.problems}")
        return result.summary, extra

    def foreground(self, name: str, clients: int, round_no: int) -> dict[str, Any]:
        a = self.args
        text = FG.format(clients=clients, duration=a.duration, window=a.window,
                         workers=a.workers_per_client * clients)
        s, _ = self._run(name, text, f"fg-{name}-{clients}-{round_no}")
        cpu = s["cpu"]
        return {"per_s": s["throughput"]["jobs_per_s"],
                "server_us_per_job": cpu.get("server_us_per_job"),
                "generator_us_per_job": cpu.get("generator_us_per_job"),
                "p50_ms": s["latency"]["result"]["all"].get("p50_us", 0) / 1000,
                "server_share": cpu.get("server_share"),
                "generator_shares": cpu.get("generator_shares"),
                "warning": cpu.get("warning"), "lost": s["invariants"]["lost"]}

    def background(self, name: str) -> dict[str, Any]:
        s, rss = self._run(name, BG.format(duration=self.args.bg_seconds), f"bg-{name}",
                           before=True)
        rows = [r for r in s["over_time"] if r.get("submitted")]
        depth = 0
        per_level: list[dict[str, Any]] = []
        seconds: list[tuple[int, int]] = []  # (depth at the start of the second, created in it)
        for row in rows[1:-1]:  # whole seconds only
            seconds.append((depth, row.get("created", 0)))
            depth += row.get("created", 0)
        for level in self.args.levels:
            hit = next(((d, n) for d, n in seconds if d >= level), None)
            per_level.append({"level": level, "queued_before": hit[0] if hit else None,
                              "per_s": hit[1] if hit else None})
        created = s["counts"].get("created", 0)
        return {"levels": per_level, "per_s": s["throughput"]["created_per_s"],
                "max_depth": created,
                "rss_per_job": round((rss["rss1"] - rss["rss0"]) / max(created, 1), 1),
                "server_share": s["cpu"].get("server_share"),
                "generator_shares": s["cpu"].get("generator_shares"),
                "warning": s["cpu"].get("warning")}


def main(argv: list[str] | None = None) -> int:
    # a TERM (timeout, CI) unwinds like Ctrl-C, so the servers started here are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=6, help="load seconds per fg run")
    p.add_argument("--repeat", type=int, default=3, help="fg rounds; medians count")
    p.add_argument("--clients", default="1,16", help="fg client-user levels")
    p.add_argument("--workers-per-client", type=int, default=4,
                   help="fg worker users per client user")
    p.add_argument("--window", type=int, default=16, help="fg jobs in flight per client")
    p.add_argument("--bg-seconds", type=int, default=10, help="length of the bg run")
    p.add_argument("--levels", default="0,100000,1000000", help="queue depths for bg rates")
    p.add_argument("--processes", type=int, default=0,
                   help="Locust worker processes (0: one local process)")
    p.add_argument("--pin", choices=("split", "none"), default="split",
                   help="split: server on CPU 0, the swarm on the others")
    p.add_argument("--servers", default="refserver,gearmand")
    p.add_argument("--skip-bg", action="store_true", help="foreground runs only")
    p.add_argument("--skip-fg", action="store_true", help="background runs only")
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = p.parse_args(argv)
    try:
        args.clients = [int(x) for x in args.clients.split(",")]
        args.levels = [int(x) for x in args.levels.split(",")]
    except ValueError:
        p.error("--clients and --levels take comma-separated whole numbers")
    if args.repeat < 1 or args.duration < 3 or args.bg_seconds < 3 or args.workers_per_client < 1:
        p.error("--repeat and --workers-per-client must be >= 1, --duration and --bg-seconds "
                ">= 3")
    names = args.servers.split(",")
    started = time.time()
    results: dict[str, dict[str, Any]] = {n: {} for n in names}
    with tempfile.TemporaryDirectory(prefix="gearcheck-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        if bench.server_cpus:
            console.print(f"pinned: servers on CPU {sorted(bench.server_cpus)}, the swarm on "
                          f"{sorted(bench.swarm_cpus or [])}")
        try:
            if not args.skip_fg:
                for clients in args.clients:
                    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
                    for round_no in range(args.repeat):
                        for name in names if round_no % 2 == 0 else names[::-1]:
                            run = bench.foreground(name, clients, round_no)
                            runs[name].append(run)
                            console.print(
                                f"  round {round_no + 1}: {name}: {run['per_s']:,.0f} fg jobs/s "
                                f"with {clients} client(s); server {run['server_us_per_job']} "
                                f"µs/job at {run['server_share']:.0%} of a core, generator "
                                f"{run['generator_us_per_job']} µs/job at "
                                f"{'+'.join(f'{x:.0%}' for x in run['generator_shares'])}"
                                + (f" [{run['warning']}]" if run["warning"] else ""))
                    for name in names:
                        rs = runs[name]
                        results[name][f"fg_{clients}"] = {
                            "per_s": round(statistics.median(r["per_s"] for r in rs)),
                            "server_us_per_job": statistics.median(
                                r["server_us_per_job"] or 0 for r in rs),
                            "p50_ms": round(statistics.median(r["p50_ms"] for r in rs), 2),
                            "runs": rs}
                    if len(names) == 2:
                        paired = round_ratios(runs[names[0]], runs[names[1]])
                        results[names[0]][f"fg_{clients}"]["round_ratios"] = paired
                        console.print(f"  {clients} client(s): {names[0]}/{names[1]} jobs/s "
                                      f"round by round: "
                                      f"{', '.join(f'{x:.2f}' for x in paired['per_s'])}")
            if not args.skip_bg:
                for name in names:
                    console.rule(f"background: {name}")
                    results[name]["bg"] = bench.background(name)
        except RuntimeError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
    report = {"benchmark": "refserver_vs_gearmand", "generator": "gearcheck swarm",
              "started": started, "seconds": round(time.time() - started, 1),
              "host": platform.node(), "cpus": os.cpu_count(),
              "loadavg_at_end": os.getloadavg(), "python": sys.version.split()[0],
              "gearmand_version": GearmandTarget.version(),
              "settings": {k: v for k, v in vars(args).items() if k != "out"},
              "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"refserver_vs_gearmand-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print_table(results, args)
    console.print(f"figures written to {path}")
    return 0


def round_ratios(first: list[dict[str, Any]], second: list[dict[str, Any]]
                 ) -> dict[str, list[float]]:
    """first/second within each round: the two runs of a round are back to back, so the
    machine's slow drift (other jobs starting and stopping) cancels in their ratio, where a
    ratio of medians keeps it. The spread of these ratios is the noise of the comparison."""
    out: dict[str, list[float]] = {"per_s": [], "server_us_per_job": [], "p50_ms": []}
    for a, b in zip(first, second, strict=True):
        for key, values in out.items():
            if a.get(key) and b.get(key):
                values.append(round(a[key] / b[key], 2))
    return out


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    ref, gm = results.get("refserver", {}), results.get("gearmand", {})
    table = Table(title=f"reference server vs gearmand (swarm load, medians of {args.repeat}; "
                        "higher is better, except CPU, latency and RSS)")
    for col in ("measure", "refserver", "gearmand", "ref/gearmand"):
        table.add_column(col, justify="left" if col == "measure" else "right")

    def row(label: str, a: float | None, b: float | None, digits: int = 0) -> None:
        ratio = f"{a / b:.2f}x" if a and b else "-"
        table.add_row(label, f"{a:,.{digits}f}" if a is not None else "-",
                      f"{b:,.{digits}f}" if b is not None else "-", ratio)

    for clients in args.clients if not args.skip_fg else []:
        key = f"fg_{clients}"
        a, b = ref.get(key, {}), gm.get(key, {})
        row(f"fg jobs/s, {clients} client(s) x {args.window}", a.get("per_s"), b.get("per_s"))
        row(f"server CPU µs per fg job, {clients} client(s)", a.get("server_us_per_job"),
            b.get("server_us_per_job"), 1)
        row(f"fg median latency ms, {clients} client(s)", a.get("p50_ms"), b.get("p50_ms"), 2)
        paired = a.get("round_ratios", {}).get("per_s")
        if paired:
            table.add_row(f"  fg jobs/s ratio round by round, {clients} client(s)", "", "",
                          f"{min(paired):.2f}-{max(paired):.2f} "
                          f"(median {statistics.median(paired):.2f})")
    if "bg" in ref or "bg" in gm:
        for i, level in enumerate(args.levels):
            def at(r: dict[str, Any], i: int = i) -> float | None:
                return r["bg"]["levels"][i]["per_s"] if "bg" in r else None
            row(f"bg submits/s at {level:,} queued", at(ref), at(gm))
        row("bg submits/s over the run", ref.get("bg", {}).get("per_s"),
            gm.get("bg", {}).get("per_s"))
        row("RSS bytes per queued bg job", ref.get("bg", {}).get("rss_per_job"),
            gm.get("bg", {}).get("rss_per_job"))
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
