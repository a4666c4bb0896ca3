"""Benchmark: gearcheck's reference server against gearmand, same generator, one run.

    python bench/refserver_vs_gearmand.py            # or: make bench-server
    python bench/refserver_vs_gearmand.py --duration 2 --levels 0,20000,100000   # quicker

Fairness: both servers run with their own defaults (gearmand's log level is its
default ERROR: at INFO it writes a NOTICE line per job; the reference server's is
warning), on loopback, started by the harness's own targets, driven by the same
generator code. Foreground runs alternate between the servers, round after round
(``--repeat``), and each figure is the median of its rounds, so a burst of load
from elsewhere on the machine does not land on one server only. Each run also
records CPU seconds per job of the server process and of the generator processes:
a server's CPU per job is far less sensitive to a noisy machine than its rate,
and a generator near 100% of a core per pair says the generator, not the
server, was the limit. ``--nice N`` lowers the foreground generator processes'
priority: with 16 of them on a small machine, a server at the same priority can
wait behind its own load generator for a CPU (a multi-threaded server less so);
it is off by default because other load on the machine then starves the niced
generators instead.

What it measures, for each server:

1. Foreground jobs per second with 1 and with 8 client/worker pairs. Each pair is
   two processes (multiprocessing), a client and a worker, each one blocking
   connection: the client keeps ``--window`` SUBMIT_JOBs in flight and submits a
   new one for every WORK_COMPLETE; the worker keeps ``--grabs`` GRAB_JOB_UNIQs
   outstanding, answers each JOB_ASSIGN_UNIQ with WORK_COMPLETE, and sleeps
   (PRE_SLEEP/NOOP) when it gets NO_JOB. Only completions the client received
   inside the timed window count. (An earlier version ran client and worker in
   one process; that process used 90-98% of a core at 1 pair with either server,
   so the 1-pair figure measured the generator.)
2. Background submissions per second with 0, 100k and 1M jobs already queued:
   SUBMIT_JOB_BG with a 100-byte payload and a distinct 36-character unique per
   job (what libgearman clients send: a UUID), pipelined ``--batch`` at a time,
   with the next batch written before the replies to the last are read.
   The queue is filled up to each level with the same submissions; filling
   stops at ``--fill-cap`` seconds per level, and the level actually reached is
   reported (gearmand's unique hash table has a fixed 991 buckets, so its rate
   collapses as the queue grows and it may not reach 1M in time). At each level
   ``--repeat`` timed samples of ``--measure`` submissions (or ``--sample-seconds``,
   whichever ends first); after each sample a worker takes that many jobs back off
   the queue, so every sample starts at the level. The median counts. One untimed
   sample (drained again) comes first: a fresh server's first burst pays for
   growing its heap and tables.
3. Memory: server RSS growth per queued background job, once the last level is
   filled (before its samples).

Prints a table with the ratio reference/gearmand and writes the figures as
JSON under reports/bench/. The run is bounded: about 4-6 minutes with defaults.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import struct
import sys
import time
from collections import deque
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gearcheck.protocol import Decoder, Magic, Packet, PacketType, encode
from gearcheck.targets import GearmandTarget, ProcessTarget, RefServerTarget

T = PacketType
ROOT = Path(__file__).resolve().parent.parent
console = Console()


# -- foreground pairs ------------------------------------------------------------------------
# A pair is two processes, as in real life: a client and a worker. Each runs a blocking loop
# (recv, decode, answer with one sendall), the cheapest a Python generator gets, so that the
# generator, not the server, is the part with room to spare.
def _connect(host: str, port: int, nice: int) -> socket.socket:
    """A blocking socket whose recv gives up after 0.2 s (SO_RCVTIMEO: no poll per recv).
    The generator process lowers its own priority by ``nice`` first (see ``--nice``)."""
    if nice:
        os.nice(nice)
    sock = socket.create_connection((host, port))
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 200_000))
    return sock


def _client(host: str, port: int, function: bytes, warmup: float, duration: float,
            window: int, nice: int, start: mp.synchronize.Barrier, results: mp.Queue) -> None:
    sock = _connect(host, port, nice)
    submit = encode(Packet.build(T.SUBMIT_JOB, function, b"", b"x" * 100))
    decoder = Decoder()
    work_complete = T.WORK_COMPLETE
    start.wait(30)
    t0 = time.perf_counter()
    count_from, count_to = t0 + warmup, t0 + warmup + duration
    done = 0
    sock.sendall(submit * window)
    while True:
        try:
            data = sock.recv(1 << 18)
        except BlockingIOError:         # SO_RCVTIMEO expired
            data = None
        now = time.perf_counter()
        if now >= count_to:
            break
        if data is None:
            continue
        if not data:
            raise SystemExit("server closed the client connection")
        decoder.feed(data)
        finished = 0
        for ev in decoder:
            if ev.type is work_complete:
                finished += 1
        if finished:
            if now >= count_from:
                done += finished
            sock.sendall(submit * finished)
    sock.close()
    results.put((done, time.process_time()))


def _worker(host: str, port: int, function: bytes, warmup: float, duration: float,
            grabs: int, nice: int, start: mp.synchronize.Barrier, results: mp.Queue) -> None:
    sock = _connect(host, port, nice)
    grab = encode(Packet.build(T.GRAB_JOB_UNIQ))
    pre_sleep = encode(Packet.build(T.PRE_SLEEP))
    decoder = Decoder()
    job_assign_uniq, no_job, noop, work_complete = (
        T.JOB_ASSIGN_UNIQ, T.NO_JOB, T.NOOP, T.WORK_COMPLETE)
    req = Magic.REQ
    start.wait(30)
    count_to = time.perf_counter() + warmup + duration
    sock.sendall(encode(Packet.build(T.CAN_DO, function)) + grab * grabs)
    outstanding = grabs
    while True:
        try:
            data = sock.recv(1 << 18)
        except BlockingIOError:         # SO_RCVTIMEO expired
            data = None
        if time.perf_counter() >= count_to:
            break
        if data is None:
            continue
        if not data:
            raise SystemExit("server closed the worker connection")
        decoder.feed(data)
        out = []
        for ev in decoder:
            t = ev.type
            if t is job_assign_uniq:
                out.append(encode(Packet(req, work_complete, (ev.args[0], b"r"))))
                out.append(grab)
            elif t is no_job:
                outstanding -= 1
                if outstanding == 0:
                    out.append(pre_sleep)
            elif t is noop:
                out.append(grab * grabs)
                outstanding += grabs
        if out:
            sock.sendall(b"".join(out))
    sock.close()
    results.put((0, time.process_time()))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def foreground(target: ProcessTarget, pairs: int, args: argparse.Namespace,
               tag: str) -> dict[str, float]:
    """One timed run: jobs/s, and CPU microseconds per job of the server and the generator."""
    assert target.pid is not None
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(2 * pairs)
    results: mp.Queue = ctx.Queue()
    host, port = target.address.host, target.address.port
    procs = []
    for i in range(pairs):
        function = f"fg-{tag}-{pairs}-{i}".encode()
        procs.append(ctx.Process(target=_worker, args=(
            host, port, function, args.warmup, args.duration, args.grabs, args.nice, barrier,
            results)))
        procs.append(ctx.Process(target=_client, args=(
            host, port, function, args.warmup, args.duration, args.window, args.nice, barrier,
            results)))
    cpu0 = cpu_seconds(target.pid)
    for p in procs:
        p.start()
    got = [results.get(timeout=args.warmup + args.duration + 60) for _ in procs]
    server_cpu = cpu_seconds(target.pid) - cpu0
    for p in procs:
        p.join(10)
    total = sum(done for done, _ in got)
    generator_cpu = sum(cpu for _, cpu in got)
    span = args.warmup + args.duration          # CPU is counted over warm-up and timed part
    jobs = max(total * span / args.duration, 1)
    return {"per_s": total / args.duration,
            "server_us_per_job": 1e6 * server_cpu / jobs,
            "generator_us_per_job": 1e6 * generator_cpu / jobs,
            "generator_busiest_core": max(cpu for _, cpu in got) / span}


# -- background submissions --------------------------------------------------------------------
class Submitter:
    """SUBMIT_JOB_BG in pipelined batches, the next batch sent before the last one's replies
    are read, so the server always has work and the generator's own time overlaps it."""

    def __init__(self, target: ProcessTarget) -> None:
        self.sock = socket.create_connection((target.address.host, target.address.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = Decoder()
        self.sent = 0            # submissions acknowledged with JOB_CREATED
        self._numbered = 0       # submissions written (acknowledged or in flight)
        self._in_flight: deque[int] = deque()
        self.prefix = os.urandom(6).hex().encode()
        self.payload = b"p" * 100

    def _send(self, n: int) -> None:
        pkts = []
        for i in range(self._numbered, self._numbered + n):
            unique = b"%s-%023d" % (self.prefix, i)   # 36 bytes, like a UUID
            pkts.append(encode(Packet(Magic.REQ, T.SUBMIT_JOB_BG,
                                      (b"bench-bg", unique, self.payload))))
        self.sock.sendall(b"".join(pkts))
        self._numbered += n
        self._in_flight.append(n)

    def _await(self) -> int:
        n = self._in_flight.popleft()
        got = 0
        while got < n:
            ev = self.decoder.next_event()
            if ev is None:
                data = self.sock.recv(1 << 18)
                if not data:
                    raise SystemExit("server closed the connection during submissions")
                self.decoder.feed(data)
                continue
            if ev.type != T.JOB_CREATED:
                raise SystemExit(f"unexpected reply to SUBMIT_JOB_BG: {ev!r}")
            got += 1
        self.sent += n
        return n

    def run(self, count: int, batch: int, deadline: float | None = None) -> int:
        """Submit up to ``count`` jobs (fewer if ``deadline`` passes); returns how many."""
        left, done = count, 0
        while left or self._in_flight:
            while left and len(self._in_flight) < 2 and (
                    deadline is None or time.perf_counter() < deadline):
                n = min(batch, left)
                self._send(n)
                left -= n
            if not self._in_flight:
                break
            done += self._await()
        return done

    def close(self) -> None:
        self.sock.close()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Drainer:
    """A worker that takes jobs back off the queue (GRAB_JOB, WORK_COMPLETE), so that every
    timed sample at a level starts from the same queue depth."""

    def __init__(self, target: ProcessTarget) -> None:
        self.sock = socket.create_connection((target.address.host, target.address.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(60)
        self.decoder = Decoder()
        self.sock.sendall(encode(Packet.build(T.CAN_DO, b"bench-bg")))
        self.grab = encode(Packet.build(T.GRAB_JOB))

    def _next(self) -> Packet:
        while (ev := self.decoder.next_event()) is None:
            data = self.sock.recv(1 << 18)
            if not data:
                raise SystemExit("server closed the draining worker's connection")
            self.decoder.feed(data)
        assert isinstance(ev, Packet)
        return ev

    def drain(self, count: int, batch: int) -> None:
        left = count
        while left:
            n = min(batch, left)
            self.sock.sendall(self.grab * n)
            done = []
            for _ in range(n):
                ev = self._next()
                if ev.type != T.JOB_ASSIGN:
                    raise SystemExit(f"draining: expected JOB_ASSIGN, got {ev!r}")
                done.append(encode(Packet(Magic.REQ, T.WORK_COMPLETE, (ev.args[0], b""))))
            self.sock.sendall(b"".join(done))
            left -= n
        self.sock.sendall(encode(Packet.build(T.ECHO_REQ, b"fence")))   # all completions seen
        while self._next().type != T.ECHO_RES:
            pass

    def close(self) -> None:
        self.sock.close()


def background(target: ProcessTarget, args: argparse.Namespace) -> dict[str, object]:
    from rich.progress import Progress

    assert target.pid is not None
    sub = Submitter(target)
    drainer = Drainer(target)
    sub.run(1, 1)
    # one untimed sample first, drained again: a fresh process's first burst pays for
    # growing its heap and tables, which is start-up, not submission, cost (either server)
    drainer.drain(sub.run(args.measure, args.batch,
                          deadline=time.perf_counter() + args.sample_seconds), args.batch)
    rss0 = rss_bytes(target.pid)
    rss1 = rss0
    levels = []
    queued = 1
    with Progress(console=console, transient=True) as progress:
        for level in args.levels:
            task = progress.add_task(f"{target.name}: filling to {level:,}", total=max(level, 1))
            fill_end = time.perf_counter() + args.fill_cap
            while queued < level and time.perf_counter() < fill_end:
                queued += sub.run(min(args.batch * 20, level - queued), args.batch,
                                  deadline=fill_end)
                progress.update(task, completed=queued)
            reached = queued
            progress.remove_task(task)
            if level == args.levels[-1]:
                rss1 = rss_bytes(target.pid)      # memory with the deepest queue, before samples
            samples = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                measured = sub.run(args.measure, args.batch, deadline=t0 + args.sample_seconds)
                samples.append(measured / (time.perf_counter() - t0))
                drainer.drain(measured, args.batch)    # back to the level for the next sample
            rate = statistics.median(samples)
            levels.append({"level": level, "queued_before": reached, "per_s": round(rate),
                           "samples": [round(s) for s in samples]})
            console.print(f"  {target.name}: {rate:,.0f} bg submits/s with {reached:,} queued "
                          f"(samples: {', '.join(f'{s:,.0f}' for s in samples)})")
    sub.close()
    drainer.close()
    return {"levels": levels, "queued_at_rss": queued, "rss_start": rss0, "rss_end": rss1,
            "rss_per_job": round((rss1 - rss0) / max(queued - 1, 1), 1)}


# -- driver ----------------------------------------------------------------------------------------
MAKERS: dict[str, tuple[type[ProcessTarget], dict[str, str]]] = {
    # each server's own default log level (GearmandTarget's default is INFO, for the tests)
    "refserver": (RefServerTarget, {"log_level": "warning"}),
    "gearmand": (GearmandTarget, {"verbose": "ERROR"}),
}


def start(name: str, log_dir: Path) -> ProcessTarget:
    make, options = MAKERS[name]
    return make(log_dir=log_dir, **options).__enter__()   # type: ignore[arg-type]


def run_foreground(names: list[str], args: argparse.Namespace, log_dir: Path) -> dict:
    """Every server up at once (an idle one costs nothing); rounds alternate their order."""
    targets = {name: start(name, log_dir) for name in names}
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        n: {p: [] for p in args.pairs} for n in names}
    try:
        for round_no in range(args.repeat):
            order = names if round_no % 2 == 0 else names[::-1]
            for pairs in args.pairs:
                for name in order:
                    run = foreground(targets[name], pairs, args, f"{name}{round_no}")
                    runs[name][pairs].append(run)
                    console.print(f"  round {round_no + 1}: {name}: {run['per_s']:,.0f} fg jobs/s "
                                  f"with {pairs} pair(s); CPU per job: server "
                                  f"{run['server_us_per_job']:.0f} us, generator "
                                  f"{run['generator_us_per_job']:.0f} us (busiest generator "
                                  f"process: {run['generator_busiest_core']:.0%} of a core)")
    finally:
        for target in targets.values():
            target.__exit__(None, None, None)
    out: dict[str, dict] = {}
    for name in names:
        out[name] = {}
        for pairs in args.pairs:
            rs = runs[name][pairs]
            out[name][f"fg_{pairs}"] = round(statistics.median(r["per_s"] for r in rs))
            out[name][f"fg_{pairs}_server_us_per_job"] = round(
                statistics.median(r["server_us_per_job"] for r in rs), 1)
            out[name][f"fg_{pairs}_runs"] = [{k: round(v, 2) for k, v in r.items()} for r in rs]
    return out


def main(argv: list[str] | None = None) -> int:
    # a TERM (timeout, CI) unwinds like Ctrl-C, so the servers started here are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=5.0, help="timed seconds per fg run")
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--repeat", type=int, default=5,
                   help="fg rounds (servers alternate) and bg samples per level; medians count")
    p.add_argument("--pairs", default="1,8", help="client/worker pair counts")
    p.add_argument("--window", type=int, default=16, help="fg jobs in flight per client")
    p.add_argument("--grabs", type=int, default=4, help="GRAB_JOBs outstanding per worker")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness of the fg generator processes (default 0: same as the servers)")
    p.add_argument("--levels", default="0,100000,1000000", help="queued jobs before bg runs")
    p.add_argument("--measure", type=int, default=50_000,
                   help="bg submissions per timed sample (at most --sample-seconds long)")
    p.add_argument("--sample-seconds", type=float, default=2.0,
                   help="longest bg sample; the sample's jobs are drained again after it")
    p.add_argument("--batch", type=int, default=500, help="bg submissions per pipelined write")
    p.add_argument("--fill-cap", type=float, default=45.0,
                   help="seconds allowed to fill the queue to one level (and to time it)")
    p.add_argument("--servers", default="refserver,gearmand")
    p.add_argument("--skip-bg", action="store_true", help="foreground runs only")
    p.add_argument("--skip-fg", action="store_true", help="background runs only")
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = p.parse_args(argv)
    args.pairs = [int(x) for x in args.pairs.split(",")]
    args.levels = [int(x) for x in args.levels.split(",")]
    names = args.servers.split(",")
    unknown = [n for n in names if n not in MAKERS]
    if unknown or args.repeat < 1:
        p.error(f"--servers takes {', '.join(MAKERS)} (got {unknown}); --repeat must be >= 1")
    started = time.time()
    log_dir = args.out / "logs"
    if args.skip_fg:
        args.pairs = []
        results: dict[str, dict] = {name: {} for name in names}
    else:
        console.rule("foreground: " + " / ".join(names))
        results = run_foreground(names, args, log_dir)
    if not args.skip_bg:
        for name in names:
            console.rule(f"background: {name}")
            target = start(name, log_dir)
            try:
                results[name]["bg"] = background(target, args)
            finally:
                target.__exit__(None, None, None)
    report = {"benchmark": "refserver_vs_gearmand", "started": started,
              "seconds": round(time.time() - started, 1), "host": platform.node(),
              "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(),
              "python": sys.version.split()[0],
              "gearmand_version": GearmandTarget.version(), "settings": {
                  k: v for k, v in vars(args).items() if k != "out"}, "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"refserver_vs_gearmand-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print_table(results, args)
    console.print(f"figures written to {path}")
    return 0


def print_table(results: dict[str, dict], args: argparse.Namespace) -> None:
    ref, gm = results.get("refserver"), results.get("gearmand")
    table = Table(title=f"reference server vs gearmand, medians of {args.repeat} "
                        "(higher is better, except CPU and RSS)")
    table.add_column("measure")
    table.add_column("refserver", justify="right")
    table.add_column("gearmand", justify="right")
    table.add_column("ref/gearmand", justify="right")

    def row(label: str, a: float | None, b: float | None) -> None:
        ratio = f"{a / b:.2f}x" if a and b else "-"
        table.add_row(label, f"{a:,.0f}" if a is not None else "-",
                      f"{b:,.0f}" if b is not None else "-", ratio)

    for pairs in args.pairs:
        row(f"fg jobs/s, {pairs} pair(s)", ref and ref[f"fg_{pairs}"], gm and gm[f"fg_{pairs}"])
        key = f"fg_{pairs}_server_us_per_job"
        row(f"server CPU us per fg job, {pairs} pair(s)", ref and ref[key], gm and gm[key])
    with_bg = [r for r in (ref, gm) if r and "bg" in r]
    if with_bg:
        for i, level in enumerate(args.levels):
            a = ref and "bg" in ref and ref["bg"]["levels"][i]
            b = gm and "bg" in gm and gm["bg"]["levels"][i]
            label = f"bg submits/s, {level:,} queued"
            reached = [f"{n} {x['queued_before']:,}" for n, x in (("ref", a), ("gearmand", b))
                       if x and abs(x["queued_before"] - level) > 1]
            if reached:    # a level below the last one's samples, or a fill cut short
                label += f" (timed from: {', '.join(reached)})"
            row(label, a and a["per_s"], b and b["per_s"])
        row("RSS bytes per queued bg job", ref and "bg" in ref and ref["bg"]["rss_per_job"],
            gm and "bg" in gm and gm["bg"]["rss_per_job"])
    console.print(table)
    if ref and "bg" in ref:
        lv = ref["bg"]["levels"]
        console.print(f"reference server: bg rate at the last level is "
                      f"{lv[-1]['per_s'] / lv[0]['per_s']:.0%} of its empty-queue rate")


if __name__ == "__main__":
    sys.exit(main())
