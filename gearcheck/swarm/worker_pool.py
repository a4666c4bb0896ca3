"""Every worker connection of one Locust process, served by one greenlet.

Strategy: a worker with no service time does one job per wake-up: a
JOB_ASSIGN_UNIQ arrives, the result and the next GRAB_JOB_UNIQ go back. With a
greenlet per worker, each job pays for a hub switch, an io watcher and a
timeout, which cost the generator more CPU per job than the server spends.
So the worker users only open, register and reconnect their connections; the
protocol runs here, in one greenlet that owns a private epoll set holding all
of them (the gevent hub watches just its file descriptor) and, on each
wake-up, reads every ready connection, decodes what came with the shared
``protocol.Decoder`` and writes each connection's answer in one non-blocking
send. Service times and WORK_STATUS updates are timers on a heap, so a slow
job never blocks the others. Each connection follows the worker protocol of a
real client library (one GRAB_JOB_UNIQ outstanding; NO_JOB -> PRE_SLEEP ->
NOOP -> GRAB_JOB_UNIQ) and the pool checks the server's side of it (see
``worker``): a grab unanswered for ``GRAB_REPLY_S`` has its user reconnect;
asleep for ``WAKE_CHECK_S``, a worker grabs anyway to catch a lost wake-up.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import select
from collections import deque
from time import monotonic, perf_counter_ns, time
from typing import Any

import gevent
from gevent import monkey

from ..protocol import Decoder, Packet, PacketType, ProtocolError, encode_fields
from .jobids import parse_job_id

GRAB_REPLY_S = 3.0  # a server answers GRAB_JOB_UNIQ at once; this is generous
WAKE_CHECK_S = 1.0  # asleep this long: grab anyway, to catch a wake-up that never came
SWEEP_S = 0.25
_RECENT = 16  # handles remembered per connection, to recognise a repeated JOB_ASSIGN
_RECV_CHUNK = 256 * 1024
_EPOLL = monkey.get_original("select", "epoll")
_EPOLLIN = select.EPOLLIN

_GRAB = encode_fields(PacketType.GRAB_JOB_UNIQ, ())
_PRE_SLEEP = encode_fields(PacketType.PRE_SLEEP, ())
_ASSIGN, _NO_JOB, _NOOP, _ERROR = (PacketType.JOB_ASSIGN_UNIQ, PacketType.NO_JOB,
                                   PacketType.NOOP, PacketType.ERROR)
_OUTCOME_TYPES = {"complete": PacketType.WORK_COMPLETE, "fail": PacketType.WORK_FAIL,
                  "exception": PacketType.WORK_EXCEPTION}
GRAB, SLEEP, BUSY, DEAD = "grab", "sleep", "busy", "dead"


class PooledWorker:
    """One worker connection's protocol state."""

    __slots__ = ("decoder", "fd", "lost", "noop_seen", "polled", "raw", "recent", "since",
                 "state", "user")

    def __init__(self, user: Any, sock: Any) -> None:
        self.user = user
        self.raw = sock._sock  # the non-blocking socket under gevent's wrapper
        self.fd = sock.fileno()
        self.decoder = Decoder()
        self.state = GRAB
        self.since = monotonic()
        self.polled = False  # the outstanding GRAB_JOB_UNIQ is a wake-up check
        self.noop_seen = False  # a NOOP came after that check was sent
        self.recent: deque[bytes] = deque(maxlen=_RECENT)
        self.lost: str | None = None  # why the user must reconnect (None: it need not)

    @classmethod
    def failed(cls, why: str) -> PooledWorker:
        """A placeholder for a connection that could not be opened: try again."""
        worker = cls.__new__(cls)
        worker.lost = why
        worker.state = DEAD
        return worker


class WorkerPool:
    """``pool.add(user, sock)`` when a worker user has connected; ``remove`` when it stops."""

    def __init__(self, measurements: Any) -> None:
        self.m = measurements
        self.epoll = _EPOLL()
        self.workers: dict[int, PooledWorker] = {}
        self.timers: list[tuple[float, int, PooledWorker, Any]] = []
        self._tie = itertools.count()
        self._greenlet: gevent.Greenlet | None = None
        self._watcher = gevent.get_hub().loop.io(self.epoll.fileno(), 1)
        self._done: list[tuple[str, int, int]] = []  # jobs answered in this wake-up

    def add(self, user: Any, sock: Any) -> PooledWorker:
        worker = PooledWorker(user, sock)
        self.workers[worker.fd] = worker
        self.epoll.register(worker.fd, _EPOLLIN)
        self._send(worker, _GRAB)
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)
        return worker

    def remove(self, worker: PooledWorker) -> None:
        if self.workers.get(worker.fd) is worker:
            del self.workers[worker.fd]
            try:
                self.epoll.unregister(worker.fd)
            except (OSError, ValueError):
                pass
        worker.state = DEAD

    # -- the loop ------------------------------------------------------------
    def _run(self) -> None:
        hub = gevent.get_hub()
        next_sweep = monotonic() + SWEEP_S
        while self.workers or self.timers:
            now = monotonic()
            wait = next_sweep - now
            if self.timers:
                wait = min(wait, self.timers[0][0] - now)
            ready = self.epoll.poll(0)
            if not ready and wait > 0:
                with gevent.Timeout(wait, False):
                    hub.wait(self._watcher)
                ready = self.epoll.poll(0)
            for fd, _events in ready:
                worker = self.workers.get(fd)
                if worker is not None:
                    self._readable(worker)
            if self._done:
                self._record_done()
            now = monotonic()
            timers = self.timers
            while timers and timers[0][0] <= now:
                _, _, worker, action = heapq.heappop(timers)
                if worker.state is not DEAD:
                    action(worker)
            if now >= next_sweep:
                next_sweep = now + SWEEP_S
                self._sweep(now)

    def _readable(self, worker: PooledWorker) -> None:
        try:
            data = worker.raw.recv(_RECV_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lose(worker, f"worker connection: {type(exc).__name__}")
            return
        if not data:
            self._lose(worker, "worker connection: closed by the server")
            return
        decoder = worker.decoder
        decoder.feed(data)
        out: list[bytes] = []
        try:
            while (event := decoder.next_event()) is not None:
                if type(event) is Packet:
                    self._packet(worker, event, out)
                else:
                    self.m.error("worker: unexpected admin line")
        except ProtocolError as exc:
            self._lose(worker, f"worker connection: {type(exc).__name__}")
            return
        if out:
            self._send(worker, out[0] if len(out) == 1 else b"".join(out))

    def _packet(self, worker: PooledWorker, packet: Packet, out: list[bytes]) -> None:
        counts = self.m.ledger.counts
        ptype = packet.type
        if ptype is _ASSIGN:
            if packet.args[0] in worker.recent:
                counts["duplicate_assignments"] += 1
                return  # not the reply to our GRAB_JOB_UNIQ: that one is still to come
            if worker.state is not GRAB:
                self.m.error("worker: JOB_ASSIGN_UNIQ with no GRAB_JOB_UNIQ outstanding")
                return
            if worker.polled:
                if not worker.noop_seen:
                    counts["missed_wakeups"] += 1
                worker.polled = worker.noop_seen = False
            self._job(worker, packet, out)
        elif ptype is _NO_JOB:
            if worker.state is not GRAB:
                self.m.error("worker: NO_JOB with no GRAB_JOB_UNIQ outstanding")
                return
            worker.state = SLEEP
            worker.since = monotonic()
            worker.noop_seen = False
            out.append(_PRE_SLEEP)
        elif ptype is _NOOP:
            if worker.state is SLEEP:
                counts["worker_wakeups"] += 1
                worker.polled = False
                self._grab(worker, out)
            elif worker.state is GRAB and worker.polled and not worker.noop_seen:
                worker.noop_seen = True  # the wake-up crossed our check: in time after all
            else:
                counts["unexpected_noops"] += 1
        elif ptype is _ERROR:
            self.m.error(f"worker: ERROR {packet.args[0].decode(errors='replace')}")
            self._at(0.1, worker, self._regrab)
        else:
            self.m.error(f"worker: unexpected {packet.name}")

    def _grab(self, worker: PooledWorker, out: list[bytes]) -> None:
        worker.state = GRAB
        worker.since = monotonic()
        out.append(_GRAB)

    def _regrab(self, worker: PooledWorker) -> None:
        if worker.state is GRAB:
            worker.since = monotonic()
            self._send(worker, _GRAB)

    # -- jobs ----------------------------------------------------------------
    def _job(self, worker: PooledWorker, assign: Packet, out: list[bytes]) -> None:
        start_ns = perf_counter_ns()
        handle, function, unique, payload = assign.args
        user = worker.user
        m = self.m
        mix = user.mix
        worker.recent.append(handle)
        ident = parse_job_id(payload)
        carrier = payload
        if ident is None:  # a payload too small for the job id carries it as its unique
            ident = parse_job_id(unique)
            carrier = unique
        head = b""
        if ident is None:
            m.ledger.counts["foreign_jobs"] += 1
        else:
            job_id, background = ident
            head = carrier[:len(job_id) + 7]  # gcj:<job id>:<f|b>; echoed in the result
            if mix.drop and user.rng.random() < mix.drop:
                m.ledger.counts["fault_dropped"] += 1
            else:
                m.ledger.executed.append((handle, job_id, background))
                if mix.duplicate and user.rng.random() < mix.duplicate:
                    m.ledger.executed.append((handle, job_id, background))
                    m.ledger.counts["fault_duplicated"] += 1
        service = user.constant_service
        if service is None:
            service = mix.service_time.sample(user.rng)
        outcomes = user.outcomes
        outcome = outcomes[0] if len(outcomes) == 1 else \
            user.rng.choices(outcomes, cum_weights=user.outcome_cum)[0]
        final: list[bytes] = [encode_fields(PacketType.WORK_DATA, (handle, b"chunk %d" % i))
                              for i in range(mix.data_chunks)]
        if outcome == "fail":
            final.append(encode_fields(PacketType.WORK_FAIL, (handle,)))
        else:
            result = user.result if mix.result_size is None else \
                b"r" * int(mix.result_size.sample(user.rng))
            final.append(encode_fields(_OUTCOME_TYPES[outcome], (handle, head + result)))
        name = user.names.get((function, outcome))
        if name is None:
            name = user.names[(function, outcome)] = f"{function.decode()} {outcome}"
        steps = mix.status_updates
        if service <= 0 and not steps:  # answered at once, in this wake-up's write
            out.extend(final)
            out.append(_GRAB)
            worker.since = monotonic()
            self._done.append((name, (perf_counter_ns() - start_ns) // 1000, len(payload)))
            return
        done = _Done(b"".join(final), name, len(payload), start_ns)
        worker.state = BUSY
        slice_s = service / (steps + 1)
        for i in range(steps):
            status = encode_fields(PacketType.WORK_STATUS,
                                   (handle, b"%d" % (i + 1), b"%d" % (steps + 1)))
            self._at(slice_s * (i + 1), worker, _Sender(status))
        self._at(service, worker, done)

    def _record_done(self) -> None:
        """The measurements of the jobs this wake-up answered at once, in one go."""
        done, self._done = self._done, []
        wall = time()
        observe = self.m.observe
        for name, micros, size in done:
            observe("work", "WORK", name, micros, size, 1, wall)
        self.m.tick("executed", len(done), wall)

    def _at(self, delay: float, worker: PooledWorker, action: Any) -> None:
        heapq.heappush(self.timers, (monotonic() + delay, next(self._tie), worker, action))

    # -- I/O -------------------------------------------------------------------
    def _send(self, worker: PooledWorker, data: bytes) -> None:
        try:
            sent = worker.raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lose(worker, f"worker connection: {type(exc).__name__}")
            return
        if sent < len(data):  # the kernel's buffer is full: rare with replies this small
            try:
                worker.user.conn.sock.sendall(data[sent:])
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    self._lose(worker, f"worker connection: {type(exc).__name__}")

    def _lose(self, worker: PooledWorker, why: str) -> None:
        if worker.state is DEAD:
            return
        self.remove(worker)
        worker.lost = why

    def _sweep(self, now: float) -> None:
        for worker in list(self.workers.values()):
            if worker.state is GRAB and now - worker.since > GRAB_REPLY_S:
                self.m.ledger.counts["unanswered_grabs"] += 1
                self.remove(worker)
                worker.lost = ""  # reconnect, but this is no connection error
            elif worker.state is SLEEP and now - worker.since > WAKE_CHECK_S:
                worker.polled = True
                worker.noop_seen = False
                worker.state = GRAB
                worker.since = now
                self._send(worker, _GRAB)


class _Done:
    """A job's end: its final packets and the next GRAB_JOB_UNIQ, and its measurements."""

    __slots__ = ("data", "name", "size", "start_ns")

    def __init__(self, data: bytes, name: str, size: int, start_ns: int) -> None:
        self.data = data
        self.name = name
        self.size = size
        self.start_ns = start_ns

    def finish(self, pool: WorkerPool, worker: PooledWorker) -> bytes:
        wall = time()
        m = pool.m
        m.observe("work", "WORK", self.name, (perf_counter_ns() - self.start_ns) // 1000,
                  self.size, 1, wall)
        m.tick("executed", 1, wall)
        worker.state = GRAB
        worker.since = monotonic()
        return self.data + _GRAB

    def __call__(self, worker: PooledWorker) -> None:
        pool = worker.user.pool
        pool._send(worker, self.finish(pool, worker))


class _Sender:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self, worker: PooledWorker) -> None:
        worker.user.pool._send(worker, self.data)
