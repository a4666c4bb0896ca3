"""The Locust worker user: a Gearman worker that really runs (simulated) jobs.

Strategy: one connection per user. It registers its functions with CAN_DO,
then loops: GRAB_JOB_UNIQ; on NO_JOB send PRE_SLEEP and block until the
server's NOOP (with a timeout only so the loop can notice the end of a run);
on JOB_ASSIGN_UNIQ read the job id from the payload, note the execution in
the ledger, sleep the service time drawn from the profile's distribution
(gevent, so other users keep running), optionally send WORK_STATUS and
WORK_DATA, then end with WORK_COMPLETE, WORK_FAIL or WORK_EXCEPTION as the
outcome weights say, with a result of the profile's result_bytes (a size or a
distribution). The result and the next GRAB_JOB_UNIQ go out in one
write, saving a round trip per job.

Fault injection for testing the harness itself: ``faults.drop`` answers a job
without noting its execution (the ledger must call it lost) and
``faults.duplicate`` notes it twice (the ledger must call it duplicated).
"""

from __future__ import annotations

import time
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

    def on_start(self) -> None:
        self.conn = self._open()
        self.conn.send_many(Packet(_REQ, PacketType.CAN_DO, (f.encode(),))
                            for f in self.mix.functions)

    def on_stop(self) -> None:
        if self.conn is not None:
            self.conn.close()

    @task
    def work_forever(self) -> None:
        self._run_reconnecting(self._loop)

    def _loop(self) -> None:
        conn = self.conn
        assert conn is not None
        conn.send(_GRAB)
        while True:
            packet = conn.recv_packet(timeout=30.0)
            ptype = packet.type
            if ptype == PacketType.JOB_ASSIGN_UNIQ:
                conn.send_many(self._run(packet))
            elif ptype == PacketType.NO_JOB:
                conn.send(_PRE_SLEEP)
                self._sleep_until_noop(conn)
                conn.send(_GRAB)
            elif ptype == PacketType.NOOP:
                continue  # a wake-up that crossed our GRAB_JOB_UNIQ
            elif ptype == PacketType.ERROR:
                self.m.error(f"worker: ERROR {packet.args[0].decode(errors='replace')}")
                gevent.sleep(0.1)
                conn.send(_GRAB)
            else:
                self.m.error(f"worker: unexpected {packet.name}")

    def _sleep_until_noop(self, conn: Connection) -> None:
        while True:
            try:
                packet = conn.recv_packet(timeout=5.0)
            except ReceiveTimeout:
                continue
            if packet.type == PacketType.NOOP:
                self.m.ledger.counts["worker_wakeups"] += 1
                return
            self.m.error(f"worker: {packet.name} while sleeping")

    def _run(self, assign: Packet) -> list[Packet]:
        start_ns = time.perf_counter_ns()
        handle, function, unique, payload = assign.args
        m = self.m
        mix = self.mix
        ident = parse_job_id(payload) or parse_job_id(unique)  # small payloads: in the unique
        if ident is None:
            m.ledger.counts["foreign_jobs"] += 1
        else:
            job_id, background = ident
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
            result = self.result if mix.result_size is None else \
                b"r" * int(mix.result_size.sample(self.rng))
            out.append(Packet(_REQ, _OUTCOME_TYPES[outcome], (handle, result)))
        out.append(_GRAB)
        now_ns = time.perf_counter_ns()
        micros = (now_ns - start_ns) // 1000
        wall = time.time()
        m.latency.record("work", f"{function.decode()} {outcome}", micros, int(wall))
        m.tick("executed", 1, wall)
        log_requests(self.stats, "WORK", f"{function.decode()} {outcome}", micros / 1000,
                     len(payload), 1)
        return out
