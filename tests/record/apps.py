"""Real applications for the record tests: a client and a worker library, through the proxy.

An "application" is a library's worker driver serving four functions and its
client driver submitting a workload through it (fixtures/clients/CONTRACT.md):
foreground jobs on several functions and priorities, background jobs, binary
and large payloads, streamed data, failures and unique ids, each only where
the library offers it (gearcheck.interop.registry). Both drivers connect to
the recording proxy, which forwards to the real gearmand; tcpdump captures
both legs (application <-> proxy, proxy <-> gearmand) for the transparency
check. Every wait has a deadline; the drivers are killed at the end.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gearcheck.interop.driver import DriverRun, WorkerProcess, b64, run_client, server_field
from gearcheck.interop.registry import Library
from gearcheck.record.proxy import RecordingProxy
from gearcheck.record.trace import read_trace
from gearcheck.wire import Address
from tests.tcpdump import Tcpdump

BIG = 100_000  # more than one TCP segment on loopback


@dataclass
class Recording:
    library: str
    trace: Path
    pcap: Path
    proxy_port: int
    server_port: int
    functions: dict[str, str]
    client: DriverRun
    worker: DriverRun
    jobs: list[dict[str, Any]] = field(default_factory=list)


def workload(lib: Library, functions: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    """The client's jobs: what this library's client and worker both offer, ``repeat`` times."""
    both = lib.client_features & lib.worker_features
    can = both | (lib.client_features & {"priorities", "background", "bg_priorities", "unique"})
    by = {behaviour: name for name, behaviour in functions.items()}
    jobs: list[dict[str, Any]] = []
    for i in range(repeat):
        text = f"order {i}: resize the picture to {40 + 7 * i} pixels".encode()
        jobs.append({"function": by["reverse"], "payload": text})
        jobs.append({"function": by["echo"], "payload": b"e" * (64 + 16 * (i % 5))})
        if "priorities" in can:
            jobs.append({"function": by["reverse"], "payload": text * 2, "priority": "high"})
        if "background" in can:
            jobs.append({"function": by["echo"], "payload": b"b" * 200, "background": True})
        if "bg_priorities" in can and i % 2:
            jobs.append({"function": by["echo"], "payload": b"l" * 120, "background": True,
                         "priority": "low"})
        if "binary" in can and i % 3 == 0:
            jobs.append({"function": by["echo"], "payload": bytes(range(256))})
        if {"data", "warning"} <= can and i % 3 == 1:
            jobs.append({"function": by["stream"], "payload": b"s" * 48})
        if "fail" in can and i % 4 == 3:
            jobs.append({"function": by["fail"], "payload": b"f" * 40})
        if "unique" in can and i % 4 == 2:
            jobs.append({"function": by["echo"], "payload": b"u" * 90,
                         "unique": f"u-{uuid.uuid4().hex[:12]}"})
    if "large" in can:
        jobs.append({"function": by["echo"], "payload": bytes(range(256)) * (BIG // 256)})
    for n, job in enumerate(jobs):
        job.setdefault("priority", "normal")
        job.setdefault("background", False)
        job["id"] = f"j{n}"
    return jobs


def record_app(lib: Library, upstream: Address, folder: Path, *, repeat: int = 4,
               interval: float = 0.0) -> Recording:
    """Run ``lib``'s worker and client through a recording proxy to ``upstream``, captured."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    functions = {f"app.{tag}.{b}": b for b in ("reverse", "echo", "stream", "fail")}
    jobs = workload(lib, functions, repeat)
    trace, pcap = folder / "trace.jsonl", folder / "capture.pcap"
    with RecordingProxy(Address("127.0.0.1", 0), upstream, trace) as proxy:
        assert proxy.address is not None
        with Tcpdump([proxy.address.port, upstream.port], pcap) as capture:
            where = server_field(proxy.address)
            with WorkerProcess(lib, {"server": where, "timeout": 60, "max_jobs": 0,
                                     "functions": functions}) as worker:
                assert worker.wait_for("ready", timeout=20), worker.run.evidence()
                order = {"server": where, "timeout": 30, "interval": interval,
                         "jobs": [{**j, "payload": b64(j["payload"])} for j in jobs]}
                client = run_client(lib, order, deadline_s=60)
                # Background jobs finish after the client is gone: wait for the worker.
                worker.wait_for("job", count=len(jobs), timeout=20)
            _wait_until_captured(proxy, capture)
    return Recording(lib.name, trace, pcap, proxy.address.port, upstream.port, functions,
                     client, worker.run, jobs)


def _wait_until_captured(proxy: RecordingProxy, capture: Tcpdump, deadline_s: float = 10.0
                         ) -> None:
    """Until every connection the proxy closed is in the capture (both legs' FINs)."""
    deadline = time.monotonic() + deadline_s
    expected = 0
    while time.monotonic() < deadline:
        if proxy.stats.open_connections == 0:
            expected = 4 * proxy.stats.connections  # a FIN each way on both legs
            break
        time.sleep(0.05)
    while time.monotonic() < deadline:
        if capture.path.exists() and _fins(capture.path) >= expected:
            return
        time.sleep(0.1)


def _fins(path: Path) -> int:
    from scapy.layers.inet import TCP
    from scapy.utils import PcapReader

    count = 0
    try:
        with PcapReader(str(path)) as reader:
            for pkt in reader:
                tcp = pkt.getlayer(TCP)
                if tcp is not None and int(tcp.flags) & 0x01:
                    count += 1
    except Exception:  # a record half-written at the end of the file
        return count
    return count


def trace_records(path: Path) -> list[dict[str, Any]]:
    return read_trace(path).records
