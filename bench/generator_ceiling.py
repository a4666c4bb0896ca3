"""How fast can ONE Locust process generate Gearman load? (not a test: a benchmark)

Two measurements against a fresh C gearmand started for the purpose:
  bg   background submissions/s from one Locust process: 20 client users with
       500 jobs in flight each (pipelined), no workers: the enqueue ceiling.
  fg   foreground jobs/s from two Locust processes (a master + 2 --worker
       processes) sharing 16 client users (16 jobs in flight each) and 64
       worker users; Locust's dispatcher decides which process runs which.
Each run is a normal ``gearcheck load`` of a generated profile, so the figure
includes everything the harness does per job (codec, HDR, ledger, Locust
stats). The CPU share of every Locust process and of gearmand over the run is
sampled too: a generator process near 100% of a core is the limit; one well
below it while gearmand is near 100% means the server was (the generator
ceiling is then higher than the figure). ``--repeat N`` runs each measurement
N times and reports the median (the machine is shared and noisy). Usage:

    .venv/bin/python bench/generator_ceiling.py [--duration 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget

BG = """\
name: ceiling-bg
duration: {d}s
users: 20
drain_timeout: 1s
clients:
  - name: bg
    functions: [ceiling_bg]
    background: 1.0
    payload_bytes: 64
    in_flight: 500
thresholds: {{max_lost: 0}}
"""

FG = """\
name: ceiling-fg
duration: {d}s
users: 16
clients:
  - name: fg
    functions: [ceiling_fg]
    payload_bytes: 64
    in_flight: 16
workers:
  - name: w
    count: 64
    functions: [ceiling_fg]
thresholds: {{max_lost: 0}}
"""


class CpuSampler:
    """CPU shares of the server and of every Locust process during the load.

    Samples every 0.2 s; the load window is the ``duration``-long stretch in
    which the busiest Locust process used the most CPU (start-up, drain and the
    summary at the end fall outside it)."""

    def __init__(self, server_pid: int, duration: float) -> None:
        self.server = psutil.Process(server_pid)
        self.me = psutil.Process()
        self.duration = duration
        self.samples: list[tuple[float, float, dict[int, float]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            procs: dict[int, float] = {}
            for child in self.me.children(recursive=True):
                try:
                    if "locust" in " ".join(child.cmdline()):
                        procs[child.pid] = sum(child.cpu_times()[:2])
                except psutil.Error:
                    continue
            try:
                server = sum(self.server.cpu_times()[:2])
            except psutil.Error:
                continue
            self.samples.append((time.monotonic(), server, procs))

    def shares(self) -> tuple[float, float]:
        """(busiest Locust process, server) as shares of one core in the load window."""
        best = (0.0, 0.0)
        for i, (t0, s0, p0) in enumerate(self.samples):
            j = next((k for k in range(i, len(self.samples))
                      if self.samples[k][0] - t0 >= self.duration), None)
            if j is None:
                break
            t1, s1, p1 = self.samples[j]
            span = t1 - t0
            gen = max(((p1[p] - p0[p]) / span for p in p0 if p in p1), default=0.0)
            if gen > best[0]:
                best = (gen, (s1 - s0) / span)
        return best


def measure(label: str, text: str, workers: int, duration: int, root: Path,
            run: int) -> dict[str, float]:
    path = root / f"{label}.yaml"
    path.write_text(text.format(d=duration))
    # A fresh server per run: a deep queue slows gearmand's enqueue.
    with GearmandTarget(log_dir=root / "gearmand", extra_args=["--threads=1"]) as gd, \
            CpuSampler(gd.pid, duration) as cpu:
        result = run_load(path, server=str(gd.address), out_root=root,
                          run_name=f"{label}{run}", workers=workers, quiet=True)
    if result.summary is None:
        raise RuntimeError(f"{label}: run failed: {result.problems}")
    tp = result.summary["throughput"]
    lat = result.summary["latency"]
    gen_cpu, server_cpu = cpu.shares()
    return {"rate": tp["created_per_s"] if label == "bg" else tp["results_per_s"],
            "p50_ms": lat["created" if label == "bg" else "result"]["all"].get("p50_us", 0)
            / 1000,
            "gen_cpu": gen_cpu, "server_cpu": server_cpu}


def rates(figs: list[dict[str, float]]) -> str:
    return ", ".join(f"{f['rate']:,.0f}" for f in figs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"bg": [], "fg": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.repeat):
            for label, text, workers in (("bg", BG, 0), ("fg", FG, 2)):
                try:
                    fig = measure(label, text, workers, args.duration, root, i)
                except RuntimeError as exc:
                    print(exc, file=sys.stderr)
                    return 2
                runs[label].append(fig)
                print(f"  {label} run {i + 1}: {fig['rate']:,.0f}/s, busiest generator "
                      f"process {fig['gen_cpu']:.0%} of a core, gearmand "
                      f"{fig['server_cpu']:.0%}", file=sys.stderr)
    what = {"bg": "bg submissions/s, one Locust process, 20 users x 500 in flight",
            "fg": "fg jobs/s, two Locust processes, 16 client users x 16 in flight + "
                  "64 worker users"}
    for label, figs in runs.items():
        def med(key: str, figs: list[dict[str, float]] = figs) -> float:
            return statistics.median(f[key] for f in figs)
        print(f"{what[label]}: {med('rate'):,.0f}  (median of {len(figs)}: "
              f"{rates(figs)}; p50 "
              f"{med('p50_ms'):.2f} ms; busiest generator process {med('gen_cpu'):.0%} "
              f"of a core, gearmand {med('server_cpu'):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
