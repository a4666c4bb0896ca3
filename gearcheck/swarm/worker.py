"""The Locust worker user: a Gearman worker that really runs (simulated) jobs.

Strategy: one connection per user, speaking the worker protocol as a real
client library does: CAN_DO for its functions, then one GRAB_JOB_UNIQ at a
time; on NO_JOB, PRE_SLEEP and wait for the server's NOOP; on
JOB_ASSIGN_UNIQ read the job id from the payload, note the execution in the
ledger, wait the service time drawn from the profile's distribution, send
WORK_STATUS and WORK_DATA if the profile asks, then end with WORK_COMPLETE,
WORK_FAIL or WORK_EXCEPTION as the outcome weights say, in one write with the
next GRAB_JOB_UNIQ. A result's data starts with the job id its payload
carried (``gcj:<id>:<f|b>;``), so the client can tell which submission it
answers without trusting reply order.

The protocol itself runs in the process's ``WorkerPool`` (one greenlet
multiplexing every worker connection: the cost per job is what limits a
generator); this user opens its connection, registers it there, and opens it
again when the pool reports it lost. The pool checks the server's side of
the conversation and counts, for the ledger's ``defects``:
  unanswered_grabs       a GRAB_JOB_UNIQ with no reply within ``GRAB_REPLY_S``:
                         the user reconnects (a server requeues what it had
                         assigned to a closed connection)
  duplicate_assignments  a JOB_ASSIGN_UNIQ for a handle this connection has
                         just been given: not run again, the real reply is awaited
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

from itertools import accumulate
from typing import Any

import gevent
from locust import task

from ..protocol import PacketType, encode_fields
from ..wire import WireError
from .profile import WorkerMix
from .reconnecting_user import ReconnectingUser
from .worker_pool import PooledWorker

_RECONNECT_PAUSE_S = 0.5
_WATCH_S = 0.2


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
        self.names: dict[tuple[bytes, str], str] = {}
        service = mix.service_time
        self.constant_service = service.value if service.kind == "constant" else None
        self.pool = self.rt.worker_pool()
        self.pooled: PooledWorker | None = None

    def on_start(self) -> None:
        self.conn = self._open()
        self.conn.send_raw(b"".join(encode_fields(PacketType.CAN_DO, (f.encode(),))
                                    for f in self.mix.functions))
        self.pooled = self.pool.add(self, self.conn.sock)

    def on_stop(self) -> None:
        if self.pooled is not None:
            self.pool.remove(self.pooled)
        if self.conn is not None:
            self.conn.close()

    @task
    def work_forever(self) -> None:
        """Watch the connection the pool works on; open it again when it is lost."""
        while True:
            gevent.sleep(_WATCH_S)
            pooled = self.pooled
            if pooled is None or pooled.lost is None:
                continue
            if pooled.lost:  # "" is an unanswered grab: counted already, no error
                self.m.error(pooled.lost)
                self.fire(request_type="CONNECTION", name=self.role, response_time=0,
                          response_length=0, exception=WireError(pooled.lost), context={})
            if self.conn is not None:
                self.conn.close()
            self.pooled = None
            gevent.sleep(_RECONNECT_PAUSE_S if pooled.lost else 0.0)
            try:
                self.on_start()
            except (OSError, WireError) as exc:
                self.m.error(f"worker connection: {type(exc).__name__}")
                self.pooled = PooledWorker.failed(str(exc))
