"""The Locust client user: one connection, a window of jobs in flight.

Strategy: a user is one gevent greenlet driving one ``wire.Connection`` (one
TCP connection to the server). It keeps up to ``in_flight`` submissions
outstanding and writes them in batches (pipelining: one ``send_many`` per
refill). Replies are decoded with the shared ``protocol.Decoder``:
JOB_CREATED comes back in submit order on a connection, so a FIFO matches it
to its submission; foreground jobs then wait in a handle -> submissions map
for their final WORK_COMPLETE / WORK_FAIL / WORK_EXCEPTION (coalesced
submissions on one connection share a handle; each is owed its own result).

Closed model: the window is refilled as soon as replies free it. Open model:
each user follows its own arrival plan (constant interval or Poisson), sends
every job whose planned time has come as long as the window has room, records
latency both from the real send and from the *intended* send (wrk2's
coordinated-omission-free method) and counts sends that started more than
``late_after`` behind plan.

Every created / result is recorded in microseconds in the process's HDR
histograms and fired as a Locust ``events.request`` named
"<function> <priority> <fg|bg>" (request_type SUBMIT for JOB_CREATED, JOB for
the final result), so Locust's UI, HTML and CSV break results down the same way.
On the master's drain message the user stops submitting, waits (bounded) for
what it has in flight, then records what never came back.
"""

from __future__ import annotations

import random
import time
from collections import deque
from itertools import accumulate
from typing import Any
from uuid import uuid4

import gevent
from locust import User, constant, task

from ..protocol import Magic, Packet, PacketType, Priority, ProtocolError, submit_type
from ..wire import Connection, WireError
from .jobids import make_payload, new_origin
from .profile import ClientMix
from .runtime import current

_PRIORITY = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}
_FINAL = {PacketType.WORK_COMPLETE: "complete", PacketType.WORK_FAIL: "fail",
          PacketType.WORK_EXCEPTION: "exception"}
_PROGRESS = (PacketType.WORK_STATUS, PacketType.WORK_DATA, PacketType.WORK_WARNING)
_RECV_CHUNK = 256 * 1024


class JobFailed(Exception):
    """A foreground job ended in WORK_FAIL or WORK_EXCEPTION."""


class _Pending:
    __slots__ = ("background", "job_id", "name", "plan_ns", "send_ns", "size")

    def __init__(self, job_id: bytes, name: str, background: bool, send_ns: int, plan_ns: int,
                 size: int) -> None:
        self.job_id = job_id
        self.name = name
        self.background = background
        self.send_ns = send_ns
        self.plan_ns = plan_ns
        self.size = size


class GearmanClientUser(User):
    """Submits jobs as its ``mix`` (set on generated subclasses) says."""

    abstract = True
    mix: ClientMix
    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        rt = current()
        self.rt = rt
        self.m = rt.measurements
        self.fire = environment.events.request.fire
        self.rng = random.Random(None if rt.profile.seed is None else
                                 rt.profile.seed + id(self) % 100_000)
        self.origin = new_origin().encode()
        self.seq = 0
        self.conn: Connection | None = None
        self.awaiting_created: deque[_Pending] = deque()
        self.fg_waiting: dict[bytes, list[_Pending]] = {}
        self.outstanding = 0
        self._prepare()

    def _prepare(self) -> None:
        mix = self.mix
        self.functions = [f.encode() for f, _ in mix.functions]
        self.fn_cum = list(accumulate(w for _, w in mix.functions))
        self.prios = [p for p, _ in mix.priorities]
        self.prio_cum = list(accumulate(w for _, w in mix.priorities))
        self.types = {(p, bg): submit_type(_PRIORITY[p], bg)
                      for p in ("high", "normal", "low") for bg in (False, True)}
        self.names = {(f, p, bg): f"{f.decode()} {p} {'bg' if bg else 'fg'}"
                      for f in self.functions for p in ("high", "normal", "low")
                      for bg in (False, True)}
        self.filler = (b"0123456789abcdef" * 4096)
        self.const_size = (int(mix.payload_bytes.value)
                           if mix.payload_bytes.kind == "constant" else None)
        self.pool = [uuid4().hex.encode() for _ in range(mix.pool_size)] \
            if mix.unique_policy == "pool" else []
        self.timeout_ns = int(self.rt.profile.job_timeout * 1e9)

    # -- Locust lifecycle --------------------------------------------------
    def on_start(self) -> None:
        self.conn = Connection.open(self.rt.address, timeout=10.0)

    def on_stop(self) -> None:
        # Stopped by the shape or the UI with jobs in flight: those are abandoned
        # (reported), not lost: nobody waited for them.
        counts = self.m.ledger.counts
        abandoned_fg = sum(len(v) for v in self.fg_waiting.values()) + sum(
            1 for p in self.awaiting_created if not p.background)
        abandoned_bg = sum(1 for p in self.awaiting_created if p.background)
        if abandoned_fg:
            counts["fg_abandoned"] += abandoned_fg
            counts["fg_submitted"] -= abandoned_fg
        if abandoned_bg:
            counts["bg_abandoned"] += abandoned_bg
        self.m.in_flight -= self.outstanding
        self.outstanding = 0
        self.fg_waiting.clear()
        self.awaiting_created.clear()
        if self.conn is not None:
            self.conn.close()

    @task
    def submit_forever(self) -> None:
        try:
            self._loop()
        except (OSError, WireError, ProtocolError) as exc:
            self.m.error(f"client connection: {type(exc).__name__}")
            self.fire(request_type="CONNECTION", name="client", response_time=0,
                      response_length=0, exception=exc, context={})
            self._forget_all("fg_connection_lost")
            if self.conn is not None:
                self.conn.close()
            gevent.sleep(0.5)
            self.conn = Connection.open(self.rt.address, timeout=10.0)

    # -- the loop ----------------------------------------------------------
    def _loop(self) -> None:
        mix = self.mix
        assert self.conn is not None
        sock = self.conn.sock
        decoder = self.conn.decoder
        window = mix.in_flight
        open_model = mix.open_model
        interval_ns = int(1e9 / mix.rate) if open_model else 0
        next_plan = time.perf_counter_ns()
        late_ns = int(mix.late_after * 1e9)
        next_sweep = time.monotonic() + 1.0
        while True:
            if self.m.draining:
                self._drain(sock, decoder)
                return
            now = time.perf_counter_ns()
            free = window - self.outstanding
            if free > 0:
                if not open_model:
                    self._send_batch(free, now, 0)
                else:
                    due = 0
                    while due < free and next_plan <= now:
                        due += 1
                        plan = next_plan
                        if now - plan > late_ns:
                            self.m.tick("late")
                        self._send_batch(1, now, plan)
                        next_plan += (int(self.rng.expovariate(mix.rate) * 1e9)
                                      if mix.poisson else interval_ns)
            if open_model and self.outstanding < window:
                wait = max(0.0, (next_plan - time.perf_counter_ns()) / 1e9)
                if self.outstanding == 0:
                    gevent.sleep(wait)
                    continue
                sock.settimeout(max(wait, 0.0001))
            else:
                sock.settimeout(1.0)
            try:
                data = sock.recv(_RECV_CHUNK)
            except TimeoutError:
                data = None
            if data is not None:
                if not data:
                    raise WireError(f"{self.rt.address} closed the client connection")
                decoder.feed(data)
                self._consume(decoder)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + 1.0
                self._expire()

    def _send_batch(self, count: int, now_ns: int, plan_ns: int) -> None:
        rng = self.rng
        mix = self.mix
        packets = []
        waiting = self.awaiting_created
        background_share = mix.background
        counts = self.m.ledger.counts
        fg = 0
        for _ in range(count):
            fn = self.functions[0] if len(self.functions) == 1 else \
                rng.choices(self.functions, cum_weights=self.fn_cum)[0]
            prio = self.prios[0] if len(self.prios) == 1 else \
                rng.choices(self.prios, cum_weights=self.prio_cum)[0]
            bg = background_share >= 1.0 or (background_share > 0.0
                                             and rng.random() < background_share)
            size = self.const_size if self.const_size is not None else \
                int(mix.payload_bytes.sample(rng))
            seq = self.seq
            self.seq = seq + 1
            job_id = b"%s:%d" % (self.origin, seq)
            payload = make_payload(self.origin, seq, bg, size, self.filler)
            policy = mix.unique_policy
            if policy == "none":
                unique = b""
            elif policy == "random":
                unique = uuid4().hex.encode()
            else:
                unique = self.pool[rng.randrange(len(self.pool))]
            packets.append(Packet(Magic.REQ, self.types[(prio, bg)], (fn, unique, payload)))
            waiting.append(_Pending(job_id, self.names[(fn, prio, bg)], bg, now_ns, plan_ns,
                                    len(payload)))
            if not bg:
                fg += 1
        assert self.conn is not None
        self.conn.send_many(packets)
        self.outstanding += count
        self.m.in_flight += count
        if fg:
            counts["fg_submitted"] += fg
        self.m.tick("submitted", count)

    def _consume(self, decoder: Any) -> None:
        m = self.m
        latency = m.latency
        fire = self.fire
        # One clock reading per received chunk: every reply in it arrived together.
        now_ns = time.perf_counter_ns()
        wall = time.time()
        second = int(wall)
        created = bg_created = 0
        while True:
            event = decoder.next_event()
            if event is None:
                if created:
                    m.tick("created", created, wall)
                if bg_created:
                    m.tick("bg_created", bg_created, wall)
                    self.outstanding -= bg_created
                    m.in_flight -= bg_created
                return
            if not isinstance(event, Packet):
                m.error("client: unexpected admin line")
                continue
            ptype = event.type
            if ptype == PacketType.JOB_CREATED:
                if not self.awaiting_created:
                    m.error("client: JOB_CREATED nobody asked for")
                    continue
                p = self.awaiting_created.popleft()
                handle = event.args[0]
                micros = (now_ns - p.send_ns) // 1000
                latency.record("created", p.name, micros, second)
                fire(request_type="SUBMIT", name=p.name, response_time=micros / 1000,
                     response_length=p.size, exception=None, context={})
                created += 1
                if p.background:
                    m.ledger.created_bg.append((handle, p.job_id))
                    bg_created += 1
                else:
                    waiting = self.fg_waiting.get(handle)
                    if waiting is None:
                        self.fg_waiting[handle] = [p]
                    else:
                        waiting.append(p)
            elif ptype in _FINAL:
                self._final(event, _FINAL[ptype], now_ns, second, wall)
            elif ptype in _PROGRESS:
                m.ledger.counts["fg_progress_packets"] += 1
            elif ptype == PacketType.ERROR:
                m.error(f"client: ERROR {event.args[0].decode(errors='replace')}")
                if self.awaiting_created:
                    p = self.awaiting_created.popleft()
                    self.outstanding -= 1
                    m.in_flight -= 1
                    if not p.background:
                        m.ledger.counts["fg_submitted"] -= 1
                    m.ledger.counts["submit_rejected"] += 1
                    fire(request_type="SUBMIT", name=p.name, response_time=0,
                         response_length=0, exception=WireError(repr(event)), context={})
            else:
                m.error(f"client: unexpected {event.name}")

    def _final(self, event: Packet, outcome: str, now_ns: int, second: int, wall: float) -> None:
        m = self.m
        counts = m.ledger.counts
        handle = event.args[0]
        if handle.endswith(b"\0"):  # gearmand's WORK_FAIL for a WORK_EXCEPTION: HANDLE\0
            handle = handle[:-1]
        waiting = self.fg_waiting.get(handle)
        if not waiting:
            counts["fg_duplicate_results"] += 1
            return
        # One final result per submission: coalesced submissions on this
        # connection share the handle, and each is owed its own result.
        p = waiting.pop(0)
        if not waiting:
            del self.fg_waiting[handle]
        exc = None if outcome == "complete" else JobFailed(f"WORK_{outcome.upper()}")
        micros = (now_ns - p.send_ns) // 1000
        m.latency.record("result", p.name, micros, second)
        if p.plan_ns:
            m.latency.record("result_intended", p.name, (now_ns - p.plan_ns) // 1000, second)
        self.fire(request_type="JOB", name=p.name, response_time=micros / 1000,
                  response_length=p.size, exception=exc, context={})
        counts["fg_results"] += 1
        counts[f"fg_{outcome}"] += 1
        self.outstanding -= 1
        m.in_flight -= 1
        m.tick("results", 1, wall)

    def _expire(self) -> None:
        """Foreground jobs older than job_timeout are given up on (counted as lost)."""
        limit = time.perf_counter_ns() - self.timeout_ns
        stale = [h for h, ps in self.fg_waiting.items() if ps[0].send_ns < limit]
        for handle in stale:
            n = len(self.fg_waiting.pop(handle))
            self.m.ledger.counts["fg_timed_out"] += n
            self.outstanding -= n
            self.m.in_flight -= n

    def _drain(self, sock: Any, decoder: Any) -> None:
        deadline = time.monotonic() + self.rt.profile.job_timeout
        while self.outstanding > 0 and time.monotonic() < deadline:
            sock.settimeout(max(0.001, min(0.5, deadline - time.monotonic())))
            try:
                data = sock.recv(_RECV_CHUNK)
            except TimeoutError:
                continue
            if not data:
                break
            decoder.feed(data)
            self._consume(decoder)
        self._forget_all("fg_pending_at_end")
        while True:  # idle until Locust stops this user
            gevent.sleep(1.0)

    def _forget_all(self, reason: str) -> None:
        counts = self.m.ledger.counts
        fg = sum(len(v) for v in self.fg_waiting.values()) + sum(
            1 for p in self.awaiting_created if not p.background)
        bg = sum(1 for p in self.awaiting_created if p.background)
        if fg:
            counts[reason] += fg
        if bg:
            counts["bg_never_created"] += bg
        self.m.in_flight -= self.outstanding
        self.outstanding = 0
        self.fg_waiting.clear()
        self.awaiting_created.clear()
