"""CPU seconds of the generator and of the server, over the run's loaded window.

Strategy: a load generator on the same machine as its server competes with
it for cores, and a figure only means something when the generator was not
the limit. ``CpuSampler`` reads user + system ticks from /proc/<pid>/stat
(the only source that is per process and immune to wall-clock noise on a
shared machine) for every Locust process and, when it is local, the server,
each time ``sample`` is called (the runner's wait loop, about 4 times a
second). ``usage`` cuts the samples to a wall-clock window (the seconds in
which clients submitted, less a second at each end for the ramp) and gives
CPU seconds per side, each process's share of a core, and the busiest
generator process, from which the runner writes ``summary["cpu"]``:
generator and server CPU microseconds per job, their ratio, the CPU share
each side got, and a warning when a generator process was saturated.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
SATURATED_SHARE = 0.9  # a generator process above this share of a core is the limit


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (None once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def pin(pid: int, cpus: set[int]) -> None:
    """Bind every thread of process ``pid`` to ``cpus`` (threads it starts later inherit)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:
            pass


def listener_pid(port: int) -> int | None:
    """The local process listening on TCP ``port`` (for a server given as HOST:PORT)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil ships with Locust
        return None
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return None if conn.pid is None else int(conn.pid)
    except (psutil.Error, OSError):
        return None
    return None


@dataclass
class CpuSampler:
    generator_pids: list[int]
    server_pid: int | None = None
    samples: list[tuple[float, dict[int, float]]] = field(default_factory=list)

    def sample(self) -> None:
        now = time.time()
        row: dict[int, float] = {}
        for pid in [*self.generator_pids, *([self.server_pid] if self.server_pid else [])]:
            value = cpu_seconds(pid)
            if value is not None:
                row[pid] = value
        self.samples.append((now, row))

    def _at(self, t: float) -> tuple[float, dict[int, float]] | None:
        """The first sample at or after ``t``."""
        return next((s for s in self.samples if s[0] >= t), None)

    def usage(self, start: float, end: float) -> dict[str, Any] | None:
        """CPU of each side between the samples nearest ``start`` and ``end``."""
        first, last = self._at(start), self._at(end)
        if first is None:
            return None
        if last is None or last is first:
            last = self.samples[-1]
        span = last[0] - first[0]
        if span <= 0.5:
            return None
        per_process = {pid: last[1][pid] - first[1][pid] for pid in self.generator_pids
                       if pid in first[1] and pid in last[1]}
        server = None
        if self.server_pid and self.server_pid in first[1] and self.server_pid in last[1]:
            server = last[1][self.server_pid] - first[1][self.server_pid]
        return {"seconds": round(span, 2), "generator_cpu_s": round(sum(per_process.values()), 3),
                "server_cpu_s": None if server is None else round(server, 3),
                "generator_shares": [round(v / span, 3) for v in per_process.values()],
                "server_share": None if server is None else round(server / span, 3)}


def describe(usage: dict[str, Any] | None, jobs: float, cores: int | None = None
             ) -> dict[str, Any]:
    """summary["cpu"]: per-job CPU of both sides, their ratio and a saturation warning."""
    if usage is None:
        return {"note": "the loaded window was too short to measure CPU"}
    out = dict(usage)
    out["jobs"] = round(jobs)
    out["cores"] = cores or os.cpu_count()
    if jobs > 0:
        out["generator_us_per_job"] = round(usage["generator_cpu_s"] / jobs * 1e6, 2)
        if usage["server_cpu_s"] is not None:
            out["server_us_per_job"] = round(usage["server_cpu_s"] / jobs * 1e6, 2)
            if usage["server_cpu_s"] > 0:
                out["generator_per_server_cpu"] = round(
                    usage["generator_cpu_s"] / usage["server_cpu_s"], 3)
    busiest = max(usage["generator_shares"], default=0.0)
    out["busiest_generator_share"] = busiest
    if busiest >= SATURATED_SHARE:
        out["warning"] = (f"a generator process used {busiest:.0%} of a core: the generator, "
                          f"not the server, may have set these figures (add Locust processes "
                          f"with --processes, or cores)")
    return out
