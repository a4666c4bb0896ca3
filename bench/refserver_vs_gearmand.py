"""Benchmark: gearcheck's reference server against gearmand, same generator, one run.

    python bench/refserver_vs_gearmand.py            # or: make bench-server
    python bench/refserver_vs_gearmand.py --duration 2 --levels 0,20000,100000   # quicker

What it measures, for each server in turn (each started fresh, with its defaults,
on loopback, by the harness's own targets):

1. Foreground jobs per second with 1 and with 8 client/worker pairs. Each pair is
   one process (multiprocessing) holding a client and a worker connection: the
   client keeps ``--window`` SUBMIT_JOBs in flight and submits a new one for every
   WORK_COMPLETE; the worker keeps ``--grabs`` GRAB_JOB_UNIQs outstanding, answers
   each JOB_ASSIGN_UNIQ with WORK_COMPLETE, and sleeps (PRE_SLEEP/NOOP) when it
   gets NO_JOB. Only completions the client received inside the timed window count.
2. Background submissions per second with 0, 100k and 1M jobs already queued:
   SUBMIT_JOB_BG with a 100-byte payload and a distinct 36-character unique per
   job (what libgearman clients send: a UUID), pipelined ``--batch`` at a time.
   The queue is filled up to each level with the same submissions; filling
   stops at ``--fill-cap`` seconds per level, and the level actually reached is
   reported (gearmand's unique hash table has a fixed 991 buckets, so its rate
   collapses as the queue grows and it may not reach 1M in time).
3. Memory: server RSS growth per queued background job, at the last level.

Prints a table with the ratio reference/gearmand and writes the figures as
JSON under reports/bench/. The run is bounded: about 2-4 minutes with defaults.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import selectors
import socket
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gearcheck.protocol import Decoder, Packet, PacketType, encode
from gearcheck.targets import GearmandTarget, ProcessTarget, RefServerTarget

T = PacketType
ROOT = Path(__file__).resolve().parent.parent
console = Console()


# -- foreground pairs ------------------------------------------------------------------------
def _pair(host: str, port: int, function: bytes, warmup: float, duration: float, window: int,
          grabs: int, start: mp.synchronize.Barrier, results: mp.Queue) -> None:
    client = socket.create_connection((host, port))
    worker = socket.create_connection((host, port))
    for s in (client, worker):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
    submit = encode(Packet.build(T.SUBMIT_JOB, function, b"", b"x" * 100))
    grab = encode(Packet.build(T.GRAB_JOB_UNIQ))
    pre_sleep = encode(Packet.build(T.PRE_SLEEP))
    dec_c, dec_w = Decoder(), Decoder()
    out_c: list[bytes] = [submit * window]
    out_w: list[bytes] = [encode(Packet.build(T.CAN_DO, function)), grab * grabs]
    outstanding = grabs
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, "c")
    sel.register(worker, selectors.EVENT_READ, "w")
    start.wait(30)
    t0 = time.perf_counter()
    count_from, count_to = t0 + warmup, t0 + warmup + duration
    done = 0
    while True:
        now = time.perf_counter()
        if now >= count_to:
            break
        if out_c:
            client.sendall(b"".join(out_c))
            out_c.clear()
        if out_w:
            worker.sendall(b"".join(out_w))
            out_w.clear()
        for key, _ in sel.select(0.2):
            if key.data == "c":
                data = client.recv(1 << 18)
                if not data:
                    raise SystemExit("server closed the client connection")
                dec_c.feed(data)
                for ev in dec_c:
                    if ev.type == T.WORK_COMPLETE:
                        if count_from <= now < count_to:
                            done += 1
                        out_c.append(submit)
            else:
                data = worker.recv(1 << 18)
                if not data:
                    raise SystemExit("server closed the worker connection")
                dec_w.feed(data)
                for ev in dec_w:
                    t = ev.type
                    if t == T.JOB_ASSIGN_UNIQ:
                        out_w.append(encode(Packet(ev.magic.REQ, T.WORK_COMPLETE,
                                                   (ev.args[0], b"r"))))
                        out_w.append(grab)
                    elif t == T.NO_JOB:
                        outstanding -= 1
                        if outstanding == 0:
                            out_w.append(pre_sleep)
                    elif t == T.NOOP:
                        out_w.append(grab * grabs)
                        outstanding += grabs
    client.close()
    worker.close()
    results.put(done)


def foreground(target: ProcessTarget, pairs: int, args: argparse.Namespace, tag: str) -> float:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(pairs)
    results: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_pair, args=(
        target.address.host, target.address.port, f"fg-{tag}-{pairs}-{i}".encode(),
        args.warmup, args.duration, args.window, args.grabs, barrier, results))
        for i in range(pairs)]
    for p in procs:
        p.start()
    total = sum(results.get(timeout=args.warmup + args.duration + 60) for _ in procs)
    for p in procs:
        p.join(10)
    return total / args.duration


# -- background submissions --------------------------------------------------------------------
class Submitter:
    def __init__(self, target: ProcessTarget) -> None:
        self.sock = socket.create_connection((target.address.host, target.address.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = Decoder()
        self.sent = 0
        self.prefix = os.urandom(6).hex().encode()
        self.payload = b"p" * 100

    def batch(self, n: int) -> None:
        pkts = []
        for i in range(self.sent, self.sent + n):
            unique = b"%s-%023d" % (self.prefix, i)   # 36 bytes, like a UUID
            pkts.append(encode(Packet(Packet.build(T.ECHO_REQ, b"").magic, T.SUBMIT_JOB_BG,
                                      (b"bench-bg", unique, self.payload))))
        self.sock.sendall(b"".join(pkts))
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

    def close(self) -> None:
        self.sock.close()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def background(target: ProcessTarget, args: argparse.Namespace) -> dict[str, object]:
    from rich.progress import Progress

    assert target.pid is not None
    sub = Submitter(target)
    sub.batch(1)
    rss0 = rss_bytes(target.pid)
    levels = []
    with Progress(console=console, transient=True) as progress:
        for level in args.levels:
            task = progress.add_task(f"{target.name}: filling to {level:,}", total=max(level, 1))
            fill_end = time.monotonic() + args.fill_cap
            while sub.sent < level and time.monotonic() < fill_end:
                sub.batch(min(args.batch, level - sub.sent))
                progress.update(task, completed=sub.sent)
            reached = sub.sent
            progress.remove_task(task)
            t0 = time.perf_counter()
            measured = 0
            while measured < args.measure and time.perf_counter() - t0 < args.fill_cap:
                sub.batch(args.batch)
                measured += args.batch
            rate = measured / (time.perf_counter() - t0)
            levels.append({"level": level, "queued_before": reached, "submits": measured,
                           "per_s": round(rate)})
            console.print(f"  {target.name}: {rate:,.0f} bg submits/s with {reached:,} queued")
    rss1 = rss_bytes(target.pid)
    sub.close()
    return {"levels": levels, "queued_at_end": sub.sent, "rss_start": rss0, "rss_end": rss1,
            "rss_per_job": round((rss1 - rss0) / max(sub.sent, 1), 1)}


# -- driver ----------------------------------------------------------------------------------------
def run_server(make: type[ProcessTarget], args: argparse.Namespace, log_dir: Path) -> dict:
    out: dict[str, object] = {}
    with make(log_dir=log_dir) as target:   # type: ignore[call-arg]
        for pairs in args.pairs:
            rate = foreground(target, pairs, args, target.name)
            out[f"fg_{pairs}"] = round(rate)
            console.print(f"  {target.name}: {rate:,.0f} fg jobs/s with {pairs} pair(s)")
    with make(log_dir=log_dir) as target:   # type: ignore[call-arg]
        out["bg"] = background(target, args)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=4.0, help="timed seconds per fg run")
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--pairs", default="1,8", help="client/worker pair counts")
    p.add_argument("--window", type=int, default=16, help="fg jobs in flight per client")
    p.add_argument("--grabs", type=int, default=4, help="GRAB_JOBs outstanding per worker")
    p.add_argument("--levels", default="0,100000,1000000", help="queued jobs before bg runs")
    p.add_argument("--measure", type=int, default=50_000, help="bg submissions timed per level")
    p.add_argument("--batch", type=int, default=500, help="bg submissions per pipelined write")
    p.add_argument("--fill-cap", type=float, default=45.0,
                   help="seconds allowed to fill the queue to one level (and to time it)")
    p.add_argument("--servers", default="refserver,gearmand")
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = p.parse_args(argv)
    args.pairs = [int(x) for x in args.pairs.split(",")]
    args.levels = [int(x) for x in args.levels.split(",")]
    makers = {"refserver": RefServerTarget, "gearmand": GearmandTarget}
    started = time.time()
    results: dict[str, dict] = {}
    log_dir = args.out / "logs"
    for name in args.servers.split(","):
        console.rule(name)
        results[name] = run_server(makers[name], args, log_dir)
    report = {"benchmark": "refserver_vs_gearmand", "started": started,
              "seconds": round(time.time() - started, 1), "host": platform.node(),
              "cpus": os.cpu_count(), "python": sys.version.split()[0],
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
    table = Table(title="reference server vs gearmand (higher is better, except RSS)")
    table.add_column("measure")
    table.add_column("refserver", justify="right")
    table.add_column("gearmand", justify="right")
    table.add_column("ref/gearmand", justify="right")

    def row(label: str, a: float | None, b: float | None, note: str = "") -> None:
        ratio = f"{a / b:.2f}x" if a and b else "-"
        table.add_row(label, f"{a:,.0f}{note}" if a is not None else "-",
                      f"{b:,.0f}" if b is not None else "-", ratio)

    for pairs in args.pairs:
        row(f"fg jobs/s, {pairs} pair(s)", ref and ref[f"fg_{pairs}"], gm and gm[f"fg_{pairs}"])
    for i, level in enumerate(args.levels):
        a = ref and ref["bg"]["levels"][i]
        b = gm and gm["bg"]["levels"][i]
        label = f"bg submits/s, {level:,} queued"
        if b and b["queued_before"] < level:
            label += f" (gearmand reached {b['queued_before']:,})"
        row(label, a and a["per_s"], b and b["per_s"])
    row("RSS bytes per queued bg job", ref and ref["bg"]["rss_per_job"],
        gm and gm["bg"]["rss_per_job"])
    console.print(table)
    if ref:
        lv = ref["bg"]["levels"]
        console.print(f"reference server: bg rate at the last level is "
                      f"{lv[-1]['per_s'] / lv[0]['per_s']:.0%} of its empty-queue rate")


if __name__ == "__main__":
    sys.exit(main())
