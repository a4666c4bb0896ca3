"""Dispatch: what each client and worker request does to the jobs, and who hears of it.

Strategy: the broker is the only code that changes job state. It works on the
``JobTable`` (pure state) and on sessions, the per-connection state that
``connection.py`` keeps, seen only through the ``jobs.SessionState`` protocol
(``send``, ``held``, ``attached``, ``abilities``, ``functions``, ``timeouts``,
``sleeping``, ``noop_sent``, ``exceptions``). Replies are queued on the
sessions with ``send``; the outbox writes them once per event-loop turn,
after the persistent queue has committed.

Wake-ups cost nothing when nobody sleeps: each function keeps the set of
sleeping sessions that can do it, so a new runnable job NOOPs exactly those
(once per sleep period, gearmand's default ``--worker-wakeup=0``), and a
woken session leaves every set at once. Epoch jobs wait in the table's heap;
one timer, set for the earliest due time, releases them and wakes sleepers
(gearmand >= 2.0 behaviour; 1.1.x never woke them).

Where gearmand has a known bug (reference section 5.3), this code does the
corrected thing; docs/refserver-vs-gearmand.md lists each difference.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..protocol import PacketType
from . import frames
from .config import RefServerOptions
from .jobs import (
    DONE,
    HIGH,
    LOW,
    NORMAL,
    QUEUED,
    RUNNING,
    WAITING,
    Function,
    Job,
    JobTable,
    SessionState,
    unique_key,
)
from .persistence import SqliteQueue

log = logging.getLogger("gearcheck.refserver")

T = PacketType
MAX_UNIQUE = 64
HANDLE_LIMIT = 64
MIN_TIMEOUT_MS = 1000

_NOT_FOUND_TEXT = {
    T.WORK_STATUS: "Job given in work result not found",
    T.WORK_COMPLETE: "Job given in work result not found",
    T.WORK_FAIL: "Job given in work result not found",
    T.WORK_DATA: "Job does not exist on server",
    T.WORK_WARNING: "Job does not exist on server",
    T.WORK_EXCEPTION: "An exception was received for a job that does not exist",
}
_UNIQUE_TOO_LARGE = frames.error("ARGUMENT_TOO_LARGE", "Unique value too large")
_QUEUE_FULL = frames.error("QUEUE_ERROR", "Job queue is full")
_HANDLE_TOO_LARGE = frames.error(
    "ARGUMENT_TOO_LARGE",
    "Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf")

# Enum members looked up once: ``T.X`` costs an attribute lookup on every use.
_WORK_STATUS, _WORK_FAIL, _WORK_EXCEPTION = T.WORK_STATUS, T.WORK_FAIL, T.WORK_EXCEPTION
_ENDS_JOB = frozenset((T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_EXCEPTION))
_GRAB_JOB, _GRAB_JOB_UNIQ, _GRAB_JOB_ALL = T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL

SUBMIT_MODES: dict[PacketType, tuple[int, bool]] = {
    T.SUBMIT_JOB: (NORMAL, False), T.SUBMIT_JOB_BG: (NORMAL, True),
    T.SUBMIT_JOB_HIGH: (HIGH, False), T.SUBMIT_JOB_HIGH_BG: (HIGH, True),
    T.SUBMIT_JOB_LOW: (LOW, False), T.SUBMIT_JOB_LOW_BG: (LOW, True),
}


def c_atoi(text: bytes) -> int:
    """C ``atoi``/``strtol`` leniency: leading blanks, a sign, digits; junk ends it."""
    s = text.lstrip(b" \t\n\r\v\f")
    sign = 1
    if s[:1] in (b"-", b"+"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    return sign * n


class Broker:
    def __init__(self, config: RefServerOptions, table: JobTable, queue: SqliteQueue | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.table = table
        self.queue = queue
        self.loop = loop
        self.prefix = config.effective_handle_prefix
        self._prefix_len = len(self.prefix)
        self._max_jobs = config.max_queued_jobs
        self._epoch_timer: asyncio.TimerHandle | None = None
        self._epoch_due: int | None = None
        # called when no job is running (graceful shutdown)
        self.on_idle: Callable[[], None] | None = None

    # -- handles -------------------------------------------------------------
    def handle(self, job: Job) -> bytes:
        return job.handle or self.prefix + b"%d" % job.id

    def _keep_handle(self, job: Job) -> bytes:
        """The handle, kept on the job (foreground and running jobs use it again)."""
        handle = job.handle
        if handle is None:
            handle = job.handle = self.prefix + b"%d" % job.id
        return handle

    def job_id(self, handle: bytes) -> int | None:
        if handle.startswith(self.prefix):
            digits = handle[self._prefix_len:]
            if digits.isdigit() and digits[:1] != b"0":
                return int(digits)
        return None

    def lookup(self, handle: bytes) -> Job | None:
        job_id = self.job_id(handle)
        return None if job_id is None else self.table.get(job_id)

    # -- submissions -----------------------------------------------------------
    def submit(self, session: SessionState, function: bytes, unique: bytes, data: bytes,
               priority: int, background: bool, reducer: bytes = b"", when: int = 0) -> None:
        if len(unique) > MAX_UNIQUE or len(reducer) > MAX_UNIQUE:
            session.send(_UNIQUE_TOO_LARGE)
            return
        table = self.table
        func = table.functions.get(function) or table.function(function)
        key = unique_key(unique, data) if unique else None
        job = func.uniques.get(key) if key is not None else None
        if job is not None:
            if background:
                self._make_background(job)
            else:
                self._attach(session, job)
            session.send(frames.job_created(self.handle(job)))
            return
        limit = func.limits[priority]
        if (limit and func.total >= limit) or len(table.jobs) >= self._max_jobs:
            session.send(_QUEUE_FULL)
            return
        job = table.new_job(func, unique, data, priority, background, reducer, when, key=key)
        if background:
            if self.queue is not None:
                self._persist(job)
            handle = self.prefix + b"%d" % job.id
        else:
            job.clients = [session]
            session.attached.add(job)
            handle = self._keep_handle(job)
        runnable = table.enqueue(job, time.time()) if when else table.enqueue(job, 0)
        session.send(frames.job_created(handle))
        if runnable:
            if func.sleepers:
                self.wake(func)
        else:
            self._arm_epoch_timer()

    def _attach(self, session: SessionState, job: Job) -> None:
        """One entry per foreground submission, as gearmand: a connection that submitted
        the same job twice is owed (and gets) every WORK_* packet twice."""
        if job.clients is None:
            job.clients = [session]
        else:
            job.clients.append(session)
        session.attached.add(job)

    def _make_background(self, job: Job) -> None:
        """A background submission joined this job: it now runs even if its clients go."""
        if not job.background:
            job.background = True
            self._persist(job)

    def _persist(self, job: Job) -> None:
        if self.queue is not None and not job.persisted:
            job.persisted = True
            self.queue.add(job.id, job.function.name, job.unique, job.priority, job.data,
                           job.reducer, job.when)

    def restore(self, job_id: int, function: bytes, unique: bytes, priority: int, data: bytes,
                reducer: bytes, when: int) -> None:
        """A background job read back from the persistent queue at start-up."""
        table = self.table
        func = table.function(function)
        job = table.new_job(func, unique, data, priority, True, reducer, when, job_id=job_id)
        job.persisted = True
        if not table.enqueue(job, time.time()):
            self._arm_epoch_timer()

    # -- workers: abilities ------------------------------------------------------
    def can_do(self, session: SessionState, name: bytes, timeout_ms: int = 0) -> None:
        func = self.table.function(name)
        session.abilities.append((func, timeout_ms))
        count = func.workers.get(session, 0)
        func.workers[session] = count + 1
        func.worker_regs += 1
        if count == 0:
            session.functions.append(func)
            if session.sleeping and not session.noop_sent:
                func.sleepers.add(session)
        if timeout_ms:   # the latest registration of a function sets its timeout
            session.timeouts[func] = timeout_ms
        else:
            session.timeouts.pop(func, None)

    def cant_do(self, session: SessionState, name: bytes) -> None:
        func = self.table.functions.get(name)
        if func is None or session not in func.workers:
            return
        self._forget(session, func)
        session.abilities = [a for a in session.abilities if a[0] is not func]
        for job in [j for j in session.held.values() if j.function is func]:
            self.requeue(job)

    def reset_abilities(self, session: SessionState) -> None:
        for func in list(session.functions):
            self._forget(session, func)
        session.abilities = []
        for job in list(session.held.values()):
            self.requeue(job)

    def _forget(self, session: SessionState, func: Function) -> None:
        func.worker_regs -= func.workers.pop(session)
        func.sleepers.discard(session)
        session.functions.remove(func)
        session.timeouts.pop(func, None)

    # -- workers: sleeping and grabbing -------------------------------------------
    def pre_sleep(self, session: SessionState) -> None:
        if session.functions and self.table.has_runnable(session.functions):
            session.send(frames.NOOP)
            return
        session.sleeping = True
        session.noop_sent = False
        for func in session.functions:
            func.sleepers.add(session)

    def wake(self, func: Function) -> None:
        for session in list(func.sleepers):
            session.noop_sent = True
            for other in session.functions:
                other.sleepers.discard(session)
            session.send(frames.NOOP)

    def grab(self, session: SessionState, kind: PacketType) -> None:
        if session.sleeping:
            session.sleeping = False
            for func in session.functions:
                func.sleepers.discard(session)
        job = self.table.take_for(session.functions) if session.functions else None
        if job is None:
            session.send(frames.NO_JOB)
            return
        job.worker = session
        handle = self._keep_handle(job)
        session.held[handle] = job
        timeout = session.timeouts.get(job.function) if session.timeouts else None
        if timeout:
            job.timer = self.loop.call_later(max(timeout, MIN_TIMEOUT_MS) / 1000.0,
                                             self._timed_out, job, session)
        if kind is _GRAB_JOB_UNIQ:
            session.send(frames.job_assign_uniq(handle, job.function.name, job.unique, job.data))
        elif kind is _GRAB_JOB:
            session.send(frames.response(T.JOB_ASSIGN, handle, job.function.name, job.data))
        elif kind is _GRAB_JOB_ALL and job.reducer:
            session.send(frames.response(T.JOB_ASSIGN_ALL, handle, job.function.name,
                                         job.unique, job.reducer, job.data))
        else:
            session.send(frames.response(T.JOB_ASSIGN_UNIQ, handle, job.function.name,
                                         job.unique, job.data))

    def _timed_out(self, job: Job, session: SessionState) -> None:
        job.timer = None
        if job.worker is session and job.state == RUNNING:
            log.info("worker timeout reached on %s, requeueing", self.handle(job).decode())
            self.requeue(job)

    def requeue(self, job: Job) -> None:
        """The worker lost the job (disconnect, CANT_DO, timeout): queue it again."""
        self._release_worker(job)
        job.retries += 1
        if self.config.job_retries and job.retries >= self.config.job_retries:
            self._tell_clients(job, frames.response(T.WORK_FAIL, self.handle(job)))
            self.end(job)
            return
        if not job.background and not job.clients:
            self.end(job)   # nobody waits for it any more
            return
        job.numerator = job.denominator = b"0"
        if self.table.enqueue(job, time.time() if job.when else 0):
            if job.function.sleepers:
                self.wake(job.function)
        else:
            self._arm_epoch_timer()
        self._check_idle()

    # -- workers: results ------------------------------------------------------------
    def work(self, session: SessionState, kind: PacketType, args: tuple[bytes, ...],
             payload: bytes) -> None:
        handle = args[0]
        if kind is _WORK_FAIL:
            if len(handle) >= HANDLE_LIMIT:
                session.send(_HANDLE_TOO_LARGE)
                return
            if handle.endswith(b"\0"):
                handle = handle[:-1]
        job = session.held.get(handle)    # keyed by the canonical handle text
        if job is None:
            session.send(frames.error("JOB_NOT_FOUND", _NOT_FOUND_TEXT[kind]))
            return
        if kind is _WORK_STATUS:
            job.numerator = b"%d" % (c_atoi(args[1]) & 0xFFFFFFFF)
            job.denominator = b"%d" % (c_atoi(args[2]) & 0xFFFFFFFF)
        if kind is _WORK_EXCEPTION:
            if job.clients:
                as_exception = frames.response_payload(kind, payload)
                as_fail = frames.response(T.WORK_FAIL, handle)
                default = self.config.exceptions
                for client in job.clients:
                    client.send(as_exception if (client.exceptions or default) else as_fail)
        elif job.clients:
            frame = frames.response_payload(kind, payload)
            for client in job.clients:
                client.send(frame)
        if kind in _ENDS_JOB:
            self.end(job)

    @staticmethod
    def _release_worker(job: Job) -> None:
        """The job's worker no longer holds it, and its CAN_DO_TIMEOUT timer is off."""
        worker = job.worker
        if worker is not None:
            if job.handle is not None:   # always, once a worker holds it (grab keeps it)
                worker.held.pop(job.handle, None)
            job.worker = None
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None

    def _tell_clients(self, job: Job, frame: bytes) -> None:
        if job.clients:
            for client in job.clients:
                client.send(frame)

    def end(self, job: Job) -> None:
        """The job is over: forget it, release its worker and clients, delete its row."""
        worker = job.worker
        self._release_worker(job)
        if job.clients:
            for client in job.clients:
                client.attached.discard(job)
            job.clients = None
        self.table.finish(job)
        if job.persisted and self.queue is not None:
            self.queue.remove(job.id)
        if worker is not None and self.on_idle is not None:
            self._check_idle()

    # -- status ----------------------------------------------------------------------
    def get_status(self, session: SessionState, handle: bytes) -> None:
        job = self.lookup(handle)
        if job is None:
            session.send(frames.response(T.STATUS_RES, handle, b"0", b"0", b"0", b"0"))
            return
        session.send(frames.response(T.STATUS_RES, handle, b"1",
                                     b"1" if job.state == RUNNING else b"0",
                                     job.numerator, job.denominator))

    def get_status_unique(self, session: SessionState, unique: bytes) -> None:
        job = self.table.by_unique.get(unique) if unique else None
        if job is None or job.state == DONE:
            session.send(frames.response(T.STATUS_RES_UNIQUE, unique, b"0", b"0", b"0", b"0",
                                         b"0"))
            return
        session.send(frames.response(
            T.STATUS_RES_UNIQUE, unique, b"1", b"1" if job.state == RUNNING else b"0",
            job.numerator, job.denominator, b"%d" % len(job.clients or ())))

    # -- admin actions -----------------------------------------------------------------
    def cancel(self, handle: bytes) -> bool:
        job = self.lookup(handle)
        if job is None:
            return False
        self._tell_clients(job, frames.response(T.WORK_FAIL, handle))
        self.end(job)
        return True

    # -- connections going away -----------------------------------------------------------
    def session_closed(self, session: SessionState) -> None:
        for func in list(session.functions):
            self._forget(session, func)
        session.abilities = []
        for job in list(session.held.values()):
            self.requeue(job)
        for job in list(session.attached):
            clients = job.clients
            if clients is not None and session in clients:
                clients[:] = [c for c in clients if c is not session]
            if not clients and job.state in (QUEUED, WAITING) and not job.background:
                self.end(job)
        session.attached.clear()

    # -- epoch jobs ---------------------------------------------------------------------
    def _arm_epoch_timer(self) -> None:
        due = self.table.next_due()
        if due is None or (self._epoch_due is not None and self._epoch_due <= due):
            return
        if self._epoch_timer is not None:
            self._epoch_timer.cancel()
        self._epoch_due = due
        self._epoch_timer = self.loop.call_later(max(0.0, due - time.time()), self._epoch_fired)

    def _epoch_fired(self) -> None:
        self._epoch_timer = None
        self._epoch_due = None
        woken: set[Function] = set()
        for job in self.table.release_due(time.time()):
            woken.add(job.function)
        for func in woken:
            if func.sleepers:
                self.wake(func)
        if self.table.next_due() is not None:
            self._arm_epoch_timer()

    # -- graceful shutdown ---------------------------------------------------------------------
    def running_jobs(self) -> int:
        return sum(f.running for f in self.table.functions.values())

    def _check_idle(self) -> None:
        if self.on_idle is not None and self.running_jobs() == 0:
            callback, self.on_idle = self.on_idle, None
            callback()
