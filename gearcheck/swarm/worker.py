"""The Locust worker user: a Gearman worker that really runs (simulated) jobs.

Strategy: one connection per user. It registers its functions with CAN_DO,
then loops: GRAB_JOB_UNIQ; on NO_JOB send PRE_SLEEP and wait for the
server's NOOP; on JOB_ASSIGN_UNIQ read the job id from the payload, note the
execution in the ledger, sleep the service time drawn from the profile's
distribution (gevent, so other users keep running), optionally send
WORK_STATUS and WORK_DATA, then end with WORK_COMPLETE, WORK_FAIL or
WORK_EXCEPTION as the outcome weights say. The result and the next
GRAB_JOB_UNIQ go out in one write, saving a round trip per job. A result's
data starts with the job id its payload carried (``gcj:<id>:<f|b>;``), so the
client can tell which submission it answers without trusting reply order.

It checks the server's side of that conversation as it goes (each a count
in the ledger, which reports it as a defect):
  unanswered_grabs       a GRAB_JOB_UNIQ with no reply within ``GRAB_REPLY_S``:
                         the worker hangs up and reconnects (a server requeues
                         what it had assigned to a closed connection)
  duplicate_assignments  a JOB_ASSIGN_UNIQ for a handle this connection has
                         just finished: not run again, the real reply is awaited
  missed_wakeups         asleep for ``WAKE_CHECK_S`` with no NOOP, the worker
                         grabs anyway; a job coming back means the server had
                         work for it and never woke it
  unexpected_noops       a NOOP while the worker was not asleep (one crossing a
                         wake-up check's GRAB_JOB_UNIQ is expected, not counted)

Fault injection for testing the harness itself: ``faults.drop`` answers a job
without noting its execution (the ledger must call it lost) and
``faults.duplicate`` notes it twice (the ledger must call it duplicated).
"""

from __future__ import annotations

import time
from collections import deque
from itertools import accumulate
from typing import Any

import gevent
from locust import task

from ..protocol import Magic, Packet, PacketType
from ..wire import Connection, ReceiveTimeout
from .jobids import parse_job_id
from .locust_stats import log_requests
from .profile import WorkerMix
from .reconnecting_user import ReconnectingUser

_OUTCOME_TYPES = {"complete": PacketType.WORK_COMPLETE, "fail": PacketType.WORK_FAIL,
                  "exception": PacketType.WORK_EXCEPTION}
_REQ = Magic.REQ
_GRAB = Packet(_REQ, PacketType.GRAB_JOB_UNIQ, ())
_PRE_SLEEP = Packet(_REQ, PacketType.PRE_SLEEP, ())
GRAB_REPLY_S = 3.0  # a server answers GRAB_JOB_UNIQ at once; this is generous
WAKE_CHECK_S = 1.0  # asleep this long: grab anyway, to catch a wake-up that never came
_RECENT = 16  # handles remembered per connection, to recognise a repeated JOB_ASSIGN


class _GrabUnanswered(Exception):
    """No reply to GRAB_JOB_UNIQ in time: reconnect (not a connection error)."""


class GearmanWorkerUser(ReconnectingUser):
    """Serves jobs as its ``mix`` (set on generated subclasses) says."""

    abstract = True
    mix: WorkerMix
    role = "worker"
    seed_scale = 7

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        mix = self.mix
        self.outcomes = [o for o, _ in mix.outcomes]
        self.outcome_cum = list(accumulate(w for _, w in mix.outcomes))
        self.result = b"r" * mix.result_bytes
        self.polled = False

    def on_start(self) -> None:
        self.conn = self._open()
        self.conn.send_many(Packet(_REQ, PacketType.CAN_DO, (f.encode(),))
                            for f in self.mix.functions)
        self.recent: deque[bytes] = deque(maxlen=_RECENT)

    def on_stop(self) -> None:
        if self.conn is not None:
            self.conn.close()

    @task
    def work_forever(self) -> None:
        while True:
            try:
                self._run_reconnecting(self._loop)
                return
            except _GrabUnanswered:
                self.m.ledger.counts["unanswered_grabs"] += 1
                if self.conn is not None:
                    self.conn.close()
                self.on_start()

    def _loop(self) -> None:
        conn = self.conn
        assert conn is not None
        conn.send(_GRAB)
        polled = False  # this GRAB_JOB_UNIQ is a wake-up check, sent while asleep
        noop_seen = False  # a NOOP arrived since that check was sent
        counts = self.m.ledger.counts
        while True:
            try:
                packet = conn.recv_packet(timeout=GRAB_REPLY_S)
            except ReceiveTimeout:
                raise _GrabUnanswered() from None
            ptype = packet.type
            if ptype == PacketType.JOB_ASSIGN_UNIQ:
                if packet.args[0] in self.recent:
                    counts["duplicate_assignments"] += 1
                    continue  # not the reply to our GRAB_JOB_UNIQ: that one is still to come
                if polled and not noop_seen:
                    counts["missed_wakeups"] += 1
                polled = noop_seen = False
                conn.send_many(self._run(packet))
            elif ptype == PacketType.NO_JOB:
                conn.send(_PRE_SLEEP)
                self._sleep_until_noop(conn)
                polled = self.polled
                noop_seen = False
                conn.send(_GRAB)
            elif ptype == PacketType.NOOP:
                if polled and not noop_seen:
                    noop_seen = True  # the wake-up crossed our check: in time after all
                else:
                    counts["unexpected_noops"] += 1
            elif ptype == PacketType.ERROR:
                self.m.error(f"worker: ERROR {packet.args[0].decode(errors='replace')}")
                gevent.sleep(0.1)
                conn.send(_GRAB)
            else:
                self.m.error(f"worker: unexpected {packet.name}")

    def _sleep_until_noop(self, conn: Connection) -> None:
        """Asleep after PRE_SLEEP: back on NOOP (``polled`` False), or after WAKE_CHECK_S
        without one (``polled`` True: the caller's GRAB_JOB_UNIQ is a check)."""
        try:
            packet = conn.recv_packet(timeout=WAKE_CHECK_S)
        except ReceiveTimeout:
            self.polled = True
            return
        self.polled = False
        if packet.type == PacketType.NOOP:
            self.m.ledger.counts["worker_wakeups"] += 1
            return
        self.m.error(f"worker: {packet.name} while sleeping")

    def _run(self, assign: Packet) -> list[Packet]:
        start_ns = time.perf_counter_ns()
        handle, function, unique, payload = assign.args
        m = self.m
        mix = self.mix
        self.recent.append(handle)
        ident = parse_job_id(payload)
        head = b""
        if ident is None:
            m.ledger.counts["foreign_jobs"] += 1
        else:
            job_id, background = ident
            head = payload[:len(job_id) + 7]  # gcj:<job id>:<f|b>; echoed in the result
            rng = self.rng
            if mix.drop and rng.random() < mix.drop:
                m.ledger.counts["fault_dropped"] += 1
            else:
                m.ledger.executed.append((handle, job_id, background))
                if mix.duplicate and rng.random() < mix.duplicate:
                    m.ledger.executed.append((handle, job_id, background))
                    m.ledger.counts["fault_duplicated"] += 1
        service = mix.service_time.sample(self.rng)
        out: list[Packet] = []
        steps = mix.status_updates
        if steps:
            slice_s = service / (steps + 1)
            for i in range(steps):
                if slice_s > 0:
                    gevent.sleep(slice_s)
                self.conn.send(Packet(_REQ, PacketType.WORK_STATUS,  # type: ignore[union-attr]
                                      (handle, b"%d" % (i + 1), b"%d" % (steps + 1))))
            service = slice_s
        if service > 0:
            gevent.sleep(service)
        for i in range(mix.data_chunks):
            out.append(Packet(_REQ, PacketType.WORK_DATA, (handle, b"chunk %d" % i)))
        outcome = self.outcomes[0] if len(self.outcomes) == 1 else \
            self.rng.choices(self.outcomes, cum_weights=self.outcome_cum)[0]
        if outcome == "fail":
            out.append(Packet(_REQ, PacketType.WORK_FAIL, (handle,)))
        else:
            out.append(Packet(_REQ, _OUTCOME_TYPES[outcome], (handle, head + self.result)))
        out.append(_GRAB)
        now_ns = time.perf_counter_ns()
        micros = (now_ns - start_ns) // 1000
        wall = time.time()
        m.latency.record("work", f"{function.decode()} {outcome}", micros, int(wall))
        m.tick("executed", 1, wall)
        log_requests(self.stats, "WORK", f"{function.decode()} {outcome}", micros / 1000,
                     len(payload), 1)
        return out
