"""A trace as a load profile: the recorded workload in the swarm's profile format.

Strategy: the jobs of the trace (``jobs.analyse``) are grouped by what a
client chooses per submission: function, foreground or background, and
priority. Each group becomes one client mix with its share of the
submissions, its payload size distribution, its unique-id policy (none, one
per job, or a pool as large as the distinct ids seen), a window large enough
for the most jobs it had in flight, and a fixed number of users. The arrival
rate over time becomes open-model stages: the submissions counted in buckets
(one second, wider for long recordings, at most ``MAX_STAGES``; a short last
one joins the one before), adjacent buckets with nearly the same rate
merged, so each stage sends the number of jobs recorded in it. Each function executed by a worker
becomes a worker mix: as many workers as were registered for it at once, and
the service times, result sizes and outcomes measured between JOB_ASSIGN and
the worker's final packet. ``recorded`` holds the figures the load report sets
the replay against. Payload bytes are left out unless ``keep_payloads``: the
sizes are always kept, the contents only when asked (up to a cap per mix).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .jobs import Submission, Workload
from .trace import encode_bytes
from .workload import arrival_window, duration_distribution, figures, size_distribution

MAX_STAGES = 60
MERGE_WITHIN = 0.02  # adjacent buckets whose rates differ less than this are one stage
USER_RATE = 500.0  # submissions/s one replay user is asked to send at most
PAYLOAD_CAP_BYTES = 16 << 20  # per client mix, with --keep-payloads
PAYLOAD_CAP_COUNT = 10_000
_NICE_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class DeriveError(ValueError):
    """The trace holds nothing a profile could replay."""


@dataclass
class Options:
    name: str | None = None
    keep_payloads: bool = False
    poisson: bool = False
    tolerance: float = 0.05
    notes: list[str] = field(default_factory=list)


def derive_profile(work: Workload, options: Options | None = None) -> dict[str, Any]:
    """The profile (as plain data, in the profile schema's order) for a workload."""
    options = options or Options()
    subs = [s for s in work.submissions if not s.rejected]
    if not subs:
        raise DeriveError(f"{work.trace.path}: no job submission in the trace (SUBMIT_JOB*), "
                          f"so there is no workload to replay")
    first, end = arrival_window(subs)
    stages = _stages(subs, first, end)
    peak_rate = max(s["rate"] for s in stages)
    clients = _clients(work, subs, peak_rate, options)
    workers = _workers(work, subs, options)
    latencies = [s.result_t - s.t for s in subs if s.result_t is not None]
    slowest = max(latencies, default=0.0)
    recorded = figures(work)
    name = options.name or "replay-" + (_NAME.sub("-", Path(work.trace.path).stem).strip("-")
                                        or "trace")
    return {
        "name": name,
        "description": (f"Replay of {work.trace.path}: {len(subs)} submissions in "
                        f"{end - first:.1f}s ({recorded['rate_per_s']:.2f}/s), "
                        f"{len(clients)} client mix(es), {len(workers)} worker mix(es); "
                        f"made by gearcheck replay-profile"),
        "speed": 1,
        "seed": 1,
        "stages": stages,
        "drain_timeout": f"{max(10, math.ceil(slowest * 3))}s",
        "job_timeout": f"{max(30, math.ceil(slowest * 3))}s",
        "clients": clients,
        "workers": workers,
        "thresholds": {"max_lost": 0, "max_duplicated": 0,
                       "max_replay_deviation": options.tolerance},
        "recorded": recorded,
    }


def _stages(subs: list[Submission], first: float, end: float) -> list[dict[str, Any]]:
    duration = max(end - first, 1e-3)
    width = next((w for w in _NICE_WIDTHS if duration / w <= MAX_STAGES), _NICE_WIDTHS[-1])
    buckets = max(1, math.ceil(duration / width - 1e-9))
    counts = [0] * buckets
    for sub in subs:
        counts[min(buckets - 1, int((sub.t - first) / width))] += 1
    spans = [width] * (buckets - 1) + [duration - width * (buckets - 1)]
    if buckets > 1 and spans[-1] < width / 2:  # a short last bucket joins the one before
        counts[-2:] = [counts[-2] + counts[-1]]
        spans[-2:] = [spans[-2] + spans[-1]]
    merged: list[list[float]] = []  # [count, seconds]
    for n, seconds in zip(counts, spans, strict=True):
        if merged:
            prev_rate = merged[-1][0] / merged[-1][1]
            rate = n / seconds
            if abs(rate - prev_rate) <= MERGE_WITHIN * max(rate, prev_rate):
                merged[-1][0] += n
                merged[-1][1] += seconds
                continue
        merged.append([n, seconds])
    return [{"kind": "hold", "duration": f"{round(seconds, 6):g}s",
             "rate": round(n / seconds, 6)} for n, seconds in merged]


def _mix_name(parts: list[str], taken: set[str]) -> str:
    base = _NAME.sub("_", "-".join(parts)).strip("_") or "mix"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def _in_flight_peak(subs: list[Submission]) -> int:
    edges: list[tuple[float, int]] = []
    for s in subs:
        done = s.result_t if not s.background else s.created_t
        edges += [(s.t, 1), (done if done is not None else s.t, -1)]
    level = peak = 0
    for _t, step in sorted(edges, key=lambda e: (e[0], e[1])):
        level += step
        peak = max(peak, level)
    return peak


def _unique_policy(subs: list[Submission]) -> dict[str, Any]:
    uniques = [s.unique for s in subs]
    if not any(uniques):
        return {"policy": "none"}
    distinct = len(set(uniques))
    if distinct == len(uniques):
        return {"policy": "random"}
    return {"policy": "pool", "pool_size": distinct}


def _clients(work: Workload, subs: list[Submission], peak_rate: float,
             options: Options) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[Submission]] = defaultdict(list)
    for s in subs:
        groups[(s.function, s.mode, s.priority)].append(s)
    taken: set[str] = set()
    out = []
    for (function, mode, priority), members in sorted(groups.items(),
                                                      key=lambda g: -len(g[1])):
        share = len(members) / len(subs)
        mix: dict[str, Any] = {
            "name": _mix_name([function, mode, priority], taken),
            "users": max(1, math.ceil(peak_rate * share / USER_RATE)),
            "functions": [_function_name(function, options)],
            "background": 1.0 if mode == "bg" else 0.0,
            "priorities": {priority: 1},
            "unique": _unique_policy(members),
            "payload_bytes": size_distribution([s.size for s in members]),
            "in_flight": max(8, 2 * _in_flight_peak(members)),
            "arrival": {"model": "open", "share": round(share, 6),
                        "process": "poisson" if options.poisson else "constant",
                        "late_after": "10ms"},
        }
        if options.keep_payloads:
            mix["payloads"] = _payloads(work, members, mix["name"], options)
        out.append(mix)
    return out


def _payloads(work: Workload, members: list[Submission], name: str,
              options: Options) -> list[Any]:
    kept: list[Any] = []
    total = 0
    for s in members:
        data = s.data
        if data is None:
            options.notes.append(f"client mix {name}: the trace has payload sizes only "
                                 f"(recorded with --no-payloads); sizes are replayed")
            return []
        if len(kept) >= PAYLOAD_CAP_COUNT or total + len(data) > PAYLOAD_CAP_BYTES:
            options.notes.append(f"client mix {name}: kept the first {len(kept)} of "
                                 f"{len(members)} payloads (cap {PAYLOAD_CAP_COUNT} payloads, "
                                 f"{PAYLOAD_CAP_BYTES >> 20} MiB); the replay cycles them")
            break
        kept.append(encode_bytes(data))
        total += len(data)
    return kept


def _function_name(function: str, options: Options) -> str:
    if not function or any(c.isspace() or c == "\0" for c in function):
        clean = re.sub(r"[\s\0]+", "_", function) or "_"
        note = f"function {function!r} is replayed as {clean!r} (profiles name functions " \
               f"without spaces or NULs)"
        if note not in options.notes:
            options.notes.append(note)
        return clean
    return function


def _workers(work: Workload, subs: list[Submission], options: Options) -> list[dict[str, Any]]:
    executed = defaultdict(list)
    for e in work.executions:
        if e.done_t is not None:
            executed[e.function].append(e)
    functions = sorted({s.function for s in subs} | set(executed)
                       | {r.function for r in work.registrations})
    fg_functions = {s.function for s in subs if not s.background}
    taken: set[str] = set()
    out = []
    for function in functions:
        runs = executed.get(function, [])
        count = work.workers_at_most(function)
        if count == 0 and function in fg_functions:
            count = 1
            options.notes.append(f"function {function!r}: foreground jobs but no worker in the "
                                 f"trace; the replay gives it one worker")
        if count == 0 and not runs:
            continue
        outcomes = Counter(e.outcome for e in runs)
        mix: dict[str, Any] = {
            "name": _mix_name(["w", function], taken),
            "count": count,
            "functions": [_function_name(function, options)],
            "service_time": duration_distribution([e.service_time or 0.0 for e in runs])
            if runs else 0,
            "result_bytes": size_distribution([e.result_size for e in runs
                                               if e.outcome != "fail"] or [0]),
            "outcomes": {k: outcomes[k] for k in ("complete", "fail", "exception")
                         if outcomes[k]} or {"complete": 1},
        }
        if runs:
            status = round(sum(e.status_updates for e in runs) / len(runs))
            chunks = round(sum(e.data_chunks for e in runs) / len(runs))
            if status:
                mix["status_updates"] = min(status, 1000)
            if chunks:
                mix["data_chunks"] = min(chunks, 1000)
        out.append(mix)
    return out
