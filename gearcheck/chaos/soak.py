"""Soak: fill and drain a queue again and again; does memory come back, does anything stick?

Strategy: start the server with its queue back end, then for each cycle
submit ``jobs`` background jobs (pipelined, distinct unique ids, a payload
of ``payload`` bytes), read the server's RSS (and its database's) when full,
drain them with one worker connection (GRAB_JOB_UNIQ, WORK_COMPLETE), and
read the RSS again once admin ``status`` shows the functions empty. The
baseline is the RSS after the first drain (the first cycle warms up
allocator pools and caches); memory has come back when the last drain is
within ``tolerance`` of it (10% plus 4 MiB by default). A job is stuck when
``status`` still counts it after the drain, or a drain hands out nothing for
``idle_s`` while jobs remain. Every wait has a deadline.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import Packet, PacketType
from ..targets import ProcessTarget, ServerConfig, TargetError, open_managed
from ..wire import Address, Connection, ReceiveTimeout, WireError
from .runner import Progress, queued

FUNCTION = b"chaos_soak"


@dataclass
class SoakResult:
    server: str
    backend: str | None
    cycles: int
    jobs_per_cycle: int
    payload: int
    rss_start: int | None = None
    rss_full: list[int | None] = field(default_factory=list)
    rss_drained: list[int | None] = field(default_factory=list)
    store_rss_drained: list[int | None] = field(default_factory=list)
    rss_baseline: int | None = None
    rss_end: int | None = None
    returned: bool | None = None
    stuck: int = 0
    refused: int = 0
    drained_per_cycle: list[int] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return "PASS" if self.returned and not self.stuck and not self.refused else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def _fill(address: Address, cycle: int, jobs: int, payload: int) -> int:
    """Submit ``jobs`` background jobs; how many were refused."""
    refused = 0
    body = b"s" * payload
    with Connection.open(address, timeout=60.0) as conn:
        sent = 0
        while sent < jobs:
            batch = min(200, jobs - sent)
            conn.send_many(Packet.build("SUBMIT_JOB_BG", FUNCTION, f"soak-{cycle}-{sent + i}",
                                        body) for i in range(batch))
            for _ in range(batch):
                reply = conn.recv_packet(60.0)
                if reply.type == PacketType.ERROR:
                    refused += 1
            sent += batch
    return refused


def _drain(address: Address, expected: int, idle_s: float) -> int:
    done = 0
    with Connection.open(address, timeout=30.0) as conn:
        conn.send(Packet.build("CAN_DO", FUNCTION))
        last = time.monotonic()
        while done < expected and time.monotonic() - last < idle_s:
            conn.send(Packet.build("GRAB_JOB_UNIQ"))
            try:
                reply = conn.recv_packet(5.0)
            except ReceiveTimeout:
                continue
            if reply.type == PacketType.JOB_ASSIGN_UNIQ:
                conn.send(Packet.build("WORK_COMPLETE", reply.arg("handle"), b""))
                done += 1
                last = time.monotonic()
            elif reply.type == PacketType.NO_JOB:
                time.sleep(0.05)
    return done


def _settled_rss(target: ProcessTarget) -> int | None:
    time.sleep(0.3)  # let the server finish freeing what the last completions released
    return target.rss_bytes()


def soak(server: str, backend: str | None, *, cycles: int, jobs: int, payload: int,
         out_dir: Path, tolerance: tuple[float, int] = (0.10, 4 << 20), idle_s: float = 10.0,
         progress: Progress | None = None) -> SoakResult:
    say = progress or (lambda _m: None)
    result = SoakResult(server=server, backend=backend, cycles=cycles, jobs_per_cycle=jobs,
                        payload=payload)
    started = time.monotonic()
    config = ServerConfig(queue_backend=backend) if backend else None
    try:
        target = open_managed(server, config=config, state_dir=out_dir / "state",
                              log_dir=out_dir / "logs")
    except (TargetError, ValueError) as exc:
        result.error = str(exc).splitlines()[0]
        return result
    result.backend = backend or target.queue_backend
    try:
        target.start()
        result.rss_start = _settled_rss(target)
        for cycle in range(cycles):
            result.refused += _fill(target.address, cycle, jobs, payload)
            result.rss_full.append(target.rss_bytes())
            drained = _drain(target.address, jobs, idle_s)
            result.drained_per_cycle.append(drained)
            deadline = time.monotonic() + idle_s
            rows = queued(target.address)
            while rows and rows.get(FUNCTION, (0, 0, 0))[0] and time.monotonic() < deadline:
                time.sleep(0.2)
                rows = queued(target.address)
            left = rows.get(FUNCTION, (0, 0, 0))[0] if rows else jobs
            result.stuck = max(result.stuck, left)
            result.rss_drained.append(_settled_rss(target))
            store = target.queue_store
            result.store_rss_drained.append(store.rss_bytes() if store else None)
            say(f"soak {server}: cycle {cycle + 1}/{cycles}, drained {drained}, "
                f"RSS {_mib(result.rss_drained[-1])} MiB")
        result.rss_baseline = result.rss_drained[0] if result.rss_drained else None
        result.rss_end = result.rss_drained[-1] if result.rss_drained else None
        if result.rss_baseline is not None and result.rss_end is not None:
            share, extra = tolerance
            result.returned = result.rss_end <= result.rss_baseline * (1 + share) + extra
    except (TargetError, OSError, WireError) as exc:
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    finally:
        target.stop()
        result.seconds = round(time.monotonic() - started, 1)
    return result


def _mib(value: int | None) -> str:
    return f"{value / (1 << 20):.1f}" if value is not None else "?"
