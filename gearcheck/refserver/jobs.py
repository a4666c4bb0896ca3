"""The job model: functions, their priority queues, and the table of live jobs.

Strategy: pure state, no I/O and no connections' internals. Each ``Function``
owns three deques (HIGH, NORMAL, LOW), FIFO within a priority. Removing a job
from the middle of a deque would be O(n), so removal is lazy: a job leaves
its deque only when it reaches the head, and any job whose state is no longer
QUEUED is skipped there (it can be in a deque at most once: taking a job pops it).
Counters are updated at the moment of the change, so ``status``
never counts a dead entry. Every operation is O(1) amortised, except
``take_for``, which is O(functions the worker registered).

Priority is global across a worker's functions (gearmand >= 2.0 and the
PROTOCOL text): HIGH of any function before NORMAL of any, before LOW of
any; among equal priorities the job queued first wins (``queue_seq``).

Epoch jobs wait in a heap keyed by their due time and count as queued NORMAL
jobs of their function; ``release_due`` moves the due ones into the deques.

Functions and jobs refer to the connections involved (workers, sleepers, a
job's clients and worker) through ``SessionState``, a ``typing.Protocol`` of
the per-connection state the broker works on; the job model itself never
touches it, and nothing here knows the connection class (connection.Session).
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import asyncio

HIGH, NORMAL, LOW = 0, 1, 2
PRIORITIES = (HIGH, NORMAL, LOW)

# Job states
WAITING = 0   # epoch job, not due yet
QUEUED = 1    # runnable, in its function's deque
RUNNING = 2   # held by a worker
DONE = 3      # finished, failed, cancelled or dropped


class SessionState(Protocol):
    """One connection as the broker sees it: where replies go, and its role state."""

    abilities: list[tuple[Function, int]]  # (function, timeout ms) in CAN_DO order
    functions: list[Function]              # distinct functions it can do, for dispatch
    timeouts: dict[Function, int]          # CAN_DO_TIMEOUT per function, in ms
    held: dict[bytes, Job]                 # jobs it runs as a worker, by handle
    attached: set[Job]                     # foreground jobs it waits for as a client
    sleeping: bool                         # sent PRE_SLEEP and has not grabbed since
    noop_sent: bool                        # woken (NOOP) in this sleep period
    exceptions: bool                       # OPTION_REQ exceptions

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the connection (written once per loop turn)."""


class Function:
    __slots__ = ("limits", "name", "queued", "queues", "running", "sleepers", "uniques",
                 "worker_regs", "workers")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.queues: tuple[deque[Job], deque[Job], deque[Job]] = (deque(), deque(), deque())
        self.queued = [0, 0, 0]          # jobs waiting per priority (epoch jobs under NORMAL)
        self.running = 0
        self.worker_regs = 0             # CAN_DO registrations, duplicates counted
        self.workers: dict[SessionState, int] = {}   # connection -> registrations
        self.sleepers: set[SessionState] = set()     # sleeping connections that can do it
        self.uniques: dict[bytes, Job] = {}
        self.limits = [0, 0, 0]          # maxqueue per priority; 0 = unlimited

    @property
    def total(self) -> int:
        return self.queued[0] + self.queued[1] + self.queued[2] + self.running

    def head(self, priority: int) -> Job | None:
        """The first live job of one priority, discarding dead entries on the way."""
        queue = self.queues[priority]
        while queue:
            job = queue[0]
            if job.state == QUEUED:
                return job
            queue.popleft()
        return None


class Job:
    __slots__ = ("background", "clients", "data", "denominator", "function", "handle", "id",
                 "numerator", "persisted", "priority", "queue_seq", "reducer", "retries",
                 "state", "timer", "unique", "when", "worker")

    def __init__(self, job_id: int, function: Function, unique: bytes, data: bytes,
                 priority: int, background: bool, reducer: bytes = b"", when: int = 0) -> None:
        self.id = job_id
        self.function = function
        self.unique = unique
        self.data = data
        self.priority = priority
        self.background = background
        self.reducer = reducer
        self.when = when                 # epoch seconds before which it may not run; 0 = now
        self.clients: list[SessionState] | None = None   # attached foreground connections
        self.worker: SessionState | None = None
        self.numerator = b"0"
        self.denominator = b"0"
        self.retries = 0
        self.state = WAITING
        self.queue_seq = 0               # when it entered its deque (FIFO across functions)
        self.persisted = False
        self.timer: asyncio.TimerHandle | None = None  # CAN_DO_TIMEOUT while running
        self.handle: bytes | None = None  # set by the broker once the handle is needed twice


def unique_key(unique: bytes, data: bytes) -> bytes | None:
    """The coalescing key: none for an empty unique, the workload for ``-``.

    ``-`` with an empty workload never coalesces (gearmand job.cc; GM-UNIQ-006a).
    """
    if not unique:
        return None
    if unique == b"-":
        if not data:
            return None
        return b"-\0" + data  # a real unique cannot hold a NUL, so no clash
    return unique


class JobTable:
    """Every live job and function of one server."""

    def __init__(self) -> None:
        self.functions: dict[bytes, Function] = {}
        self.jobs: dict[int, Job] = {}
        self.by_unique: dict[bytes, Job] = {}   # newest job per unique (GET_STATUS_UNIQUE)
        self.pending_limits: dict[bytes, list[int]] = {}   # maxqueue for functions not yet made
        self.next_id = 1
        self._seq = 0
        self._waiting: list[tuple[int, int, Job]] = []   # (when, id, job) heap

    # -- functions -----------------------------------------------------------
    def function(self, name: bytes) -> Function:
        func = self.functions.get(name)
        if func is None:
            func = self.functions[name] = Function(name)
            limits = self.pending_limits.pop(name, None)
            if limits:
                func.limits = limits
        return func

    def find_function(self, name: bytes) -> Function | None:
        """Case-insensitive lookup, as gearmand's admin commands match names."""
        func = self.functions.get(name)
        if func is not None:
            return func
        lowered = name.lower()
        for key, candidate in self.functions.items():
            if key.lower() == lowered:
                return candidate
        return None

    def drop_function(self, func: Function) -> None:
        del self.functions[func.name]

    def set_limits(self, name: bytes, limits: list[int]) -> None:
        func = self.find_function(name)
        if func is not None:
            func.limits = limits
        else:
            self.pending_limits[name] = limits

    # -- jobs ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.jobs)

    def new_job(self, func: Function, unique: bytes, data: bytes, priority: int,
                background: bool, reducer: bytes = b"", when: int = 0,
                job_id: int | None = None, key: bytes | Literal[True] | None = True) -> Job:
        """A new live job; ``key`` is its coalescing key when the caller already has it
        (``None``: it has none), ``True`` (default) to compute it here."""
        if job_id is None:
            job_id = self.next_id
            self.next_id += 1
        elif job_id >= self.next_id:
            self.next_id = job_id + 1
        job = Job(job_id, func, unique, data, priority, background, reducer, when)
        self.jobs[job_id] = job
        if key is True:
            key = unique_key(unique, data) if unique else None
        if key is not None:
            func.uniques[key] = job
            self.by_unique[unique] = job
        return job

    def get(self, job_id: int) -> Job | None:
        return self.jobs.get(job_id)

    def enqueue(self, job: Job, now: float) -> bool:
        """Queue a job (new or requeued); True when it is runnable now."""
        func = job.function
        if job.state == RUNNING:
            func.running -= 1
        func.queued[job.priority] += 1
        if job.when and job.when > now:
            job.state = WAITING
            heapq.heappush(self._waiting, (job.when, job.id, job))
            return False
        self._seq = seq = self._seq + 1      # _push, inlined: this is on every submission
        job.queue_seq = seq
        job.state = QUEUED
        func.queues[job.priority].append(job)
        return True

    def _push(self, job: Job) -> None:
        self._seq += 1
        job.queue_seq = self._seq
        job.state = QUEUED
        job.function.queues[job.priority].append(job)

    def take_for(self, functions: list[Function]) -> Job | None:
        """The best runnable job for a worker: highest priority, then oldest."""
        if len(functions) == 1:
            func = functions[0]
            for priority in PRIORITIES:
                job = func.head(priority)
                if job is not None:
                    return self._take(job)
            return None
        for priority in PRIORITIES:
            best: Job | None = None
            for func in functions:
                job = func.head(priority)
                if job is not None and (best is None or job.queue_seq < best.queue_seq):
                    best = job
            if best is not None:
                return self._take(best)
        return None

    def has_runnable(self, functions: list[Function]) -> bool:
        return any(func.head(p) is not None for func in functions for p in PRIORITIES)

    def _take(self, job: Job) -> Job:
        func = job.function
        func.queues[job.priority].popleft()
        func.queued[job.priority] -= 1
        func.running += 1
        job.state = RUNNING
        return job

    def finish(self, job: Job) -> None:
        """The job ends (completed, failed, cancelled or dropped): forget it everywhere."""
        func = job.function
        if job.state == RUNNING:
            func.running -= 1
        elif job.state in (QUEUED, WAITING):
            func.queued[job.priority] -= 1
        job.state = DONE
        self.jobs.pop(job.id, None)
        key = unique_key(job.unique, job.data) if job.unique else None
        if key is not None:
            if func.uniques.get(key) is job:
                del func.uniques[key]
            if self.by_unique.get(job.unique) is job:
                del self.by_unique[job.unique]

    # -- epoch jobs --------------------------------------------------------------
    def next_due(self) -> int | None:
        while self._waiting and self._waiting[0][2].state != WAITING:
            heapq.heappop(self._waiting)
        return self._waiting[0][0] if self._waiting else None

    def release_due(self, now: float) -> list[Job]:
        released: list[Job] = []
        while self._waiting and self._waiting[0][0] <= now:
            _, _, job = heapq.heappop(self._waiting)
            if job.state == WAITING:
                self._push(job)
                released.append(job)
        return released
