"""A chaos client: submits its share of the plan on one connection and writes down what came back.

Strategy: one thread per client with one connection, up to ``DEPTH``
submissions in flight (pipelined, so a kill lands while acknowledgements are
on the wire). Replies are matched the way the protocol orders them:
JOB_CREATED or ERROR answer the oldest submission in flight, WORK_* carry the
handle of a foreground job. A job is submitted at its planned time or as
soon as the connection allows after it.

When the connection dies, every submission in flight becomes ``unknown``
(it may or may not have been queued: the checker counts it apart) and every
foreground job waiting for its result becomes ``orphaned`` (its client is
gone, so nothing is owed to it); then the client connects again, checking the
server's incarnation around the connect. ``go_away`` is the client-gone
fault: send the next few jobs at once, read for a moment, and drop the
connection with a reset, as a crashed process would. A stopped (SIGSTOP)
server is simply waited for. Background jobs the plan marks are cancelled
with the admin ``cancel job`` once acknowledged.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..protocol import Packet, PacketType, Priority, submit_type
from ..wire import Address, Connection, ReceiveTimeout, WireError
from .history import HistoryWriter
from .incarnation import Incarnation
from .plan import JobSpec, data_digest

DEPTH = 3
GONE_BURST = 4
PRIORITY = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}


def submit_packet(job: JobSpec, payload: bytes) -> Packet:
    if job.epoch_delay:
        when = str(int(time.time()) + job.epoch_delay)
        return Packet.build("SUBMIT_JOB_EPOCH", job.function, job.unique, when, payload)
    return Packet.build(submit_type(PRIORITY[job.priority], job.background), job.function,
                        job.unique, payload)


@dataclass
class _Link:
    conn: Connection
    number: int
    inc: int
    in_flight: deque[JobSpec] = field(default_factory=deque)
    waiting: dict[bytes, list[JobSpec]] = field(default_factory=dict)  # fg jobs by handle


class ChaosClient(threading.Thread):
    def __init__(self, index: int, jobs: list[JobSpec], address: Address,
                 history: HistoryWriter, incarnation: Incarnation, start_t: float) -> None:
        super().__init__(name=f"chaos-client-{index}", daemon=True)
        self.index = index
        self.pending = deque(sorted(jobs, key=lambda j: j.at))
        self.address = address
        self.history = history
        self.incarnation = incarnation
        self.start_t = start_t            # history time at which the workload starts
        self.link: _Link | None = None
        self.connections = 0
        self.finish_by: float | None = None   # history time after which the client gives up
        self.stop_now = threading.Event()
        self.gone_requests = 0
        self._lock = threading.Lock()
        self.error: str = ""

    # -- control from the runner --------------------------------------------------
    def go_away(self) -> None:
        with self._lock:
            self.gone_requests += 1

    def drain_until(self, t: float) -> None:
        self.finish_by = t

    @property
    def outstanding(self) -> int:
        link = self.link
        return len(self.pending) + (len(link.in_flight) + len(link.waiting) if link else 0)

    # -- the loop -------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a harness bug: say so in the history, never hang the run
            self.error = f"{type(exc).__name__}: {exc}"
            self.history.write("note", text=f"client {self.index} failed: {self.error}")
        finally:
            if self.link is not None:
                self._give_up(self.link)

    def _loop(self) -> None:
        while not self.stop_now.is_set():
            now = self.history.now()
            if self.finish_by is not None and (now > self.finish_by or self.outstanding == 0):
                return
            if self.link is None:
                if not self.pending and self.finish_by is not None:
                    return  # nothing left to submit and nothing to wait for
                self.link = self._connect()
                if self.link is None:
                    continue
            link = self.link
            try:
                if self.gone_requests:
                    with self._lock:
                        self.gone_requests -= 1
                    self._go_away(link)
                    continue
                self._send_due(link, now)
                self._receive(link, self._wait_time(now))
            except (OSError, WireError) as exc:
                self._lost(link, f"connection lost: {str(exc)[:100]}")

    def _wait_time(self, now: float) -> float:
        if self.pending and self.link is not None and len(self.link.in_flight) < DEPTH:
            due = self.start_t + self.pending[0].at - now
            return min(max(due, 0.0), 0.1)
        return 0.1

    def _connect(self) -> _Link | None:
        before = self.incarnation.current()
        try:
            conn = Connection.open(self.address, timeout=30.0, connect_timeout=1.0)
        except (OSError, WireError):
            time.sleep(0.1)
            return None
        if self.incarnation.current() != before:
            conn.close()
            return None
        self.connections += 1
        self.history.write("connected", client=self.index, conn=self.connections, inc=before)
        return _Link(conn, self.connections, before)

    def _submit(self, link: _Link, job: JobSpec) -> Packet:
        payload = job.payload()
        self.history.write("submit", client=self.index, conn=link.number, inc=link.inc,
                           job=job.token, fn=job.function.hex(), uniq=job.unique.hex(),
                           size=job.size, prio=job.priority, bg=job.background,
                           epoch=job.epoch_delay, dd=data_digest(payload), wall=time.time())
        link.in_flight.append(job)
        return submit_packet(job, payload)

    def _send_due(self, link: _Link, now: float) -> None:
        batch: list[Packet] = []
        while (self.pending and len(link.in_flight) < DEPTH
               and self.start_t + self.pending[0].at <= now):
            batch.append(self._submit(link, self.pending.popleft()))
        if batch:
            link.conn.send_many(batch)

    def _receive(self, link: _Link, wait: float) -> None:
        try:
            packet = link.conn.recv_packet(wait)
        except ReceiveTimeout:
            return
        self._handle(link, packet)

    def _handle(self, link: _Link, packet: Packet) -> None:
        kind = packet.type
        if kind == PacketType.JOB_CREATED and link.in_flight:
            job = link.in_flight.popleft()
            handle = packet.arg("handle")
            self.history.write("ack", client=self.index, job=job.token, handle=handle.hex(),
                               inc=link.inc)
            if not job.background:
                link.waiting.setdefault(handle, []).append(job)
            if job.cancel:
                self._cancel(job, handle)
        elif kind == PacketType.ERROR and link.in_flight:
            job = link.in_flight.popleft()
            self.history.write("refused", client=self.index, job=job.token,
                               code=packet.arg("code").decode("latin-1"),
                               text=packet.arg("text").decode("latin-1")[:200])
        elif kind in (PacketType.WORK_COMPLETE, PacketType.WORK_FAIL, PacketType.WORK_EXCEPTION):
            handle = packet.arg("handle")
            data = packet.arg("data") if kind != PacketType.WORK_FAIL else b""
            got = data[2:].decode("latin-1") if data[:2] == b"r:" else "?" + data[:40].hex()
            jobs = link.waiting.pop(handle, None)
            if jobs is None:  # a result for no job this connection is waiting for
                self.history.write("result", client=self.index, job=None, handle=handle.hex(),
                                   kind=kind.name, got=got)
            for job in jobs or []:
                self.history.write("result", client=self.index, job=job.token,
                                   handle=handle.hex(), kind=kind.name, got=got)
        elif kind in (PacketType.WORK_STATUS, PacketType.WORK_DATA, PacketType.WORK_WARNING,
                      PacketType.NOOP):
            return
        else:
            self.history.write("note", text=f"client {self.index}: unexpected {packet.name}")

    def _cancel(self, job: JobSpec, handle: bytes) -> None:
        try:
            with Connection.open(self.address, timeout=5.0, connect_timeout=1.0) as admin:
                reply = admin.admin(f"cancel job {handle.decode('latin-1')}")
            ok = bool(reply) and reply[0].startswith(b"OK")
        except (OSError, WireError):
            ok = False
        self.history.write("cancel", client=self.index, job=job.token, handle=handle.hex(),
                           ok=ok)

    def _go_away(self, link: _Link) -> None:
        """Client-gone: a burst of submissions, a moment of reading, then a reset."""
        batch = [self._submit(link, self.pending.popleft())
                 for _ in range(min(GONE_BURST, len(self.pending)))]
        if batch:
            link.conn.send_many(batch)
        deadline = time.monotonic() + 0.02
        while time.monotonic() < deadline:
            try:
                self._handle(link, link.conn.recv_packet(max(0.0, deadline - time.monotonic())))
            except ReceiveTimeout:
                break
        link.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.history.write("note", text=f"client {self.index} goes away with "
                           f"{len(link.in_flight)} submission(s) unanswered and "
                           f"{sum(len(v) for v in link.waiting.values())} foreground job(s) "
                           "waiting")
        self._lost(link, "client gone (fault)")

    def _give_up(self, link: _Link) -> None:
        """The run is over: what is still unanswered stays so (it is not the client's doing)."""
        for job in link.in_flight:
            self.history.write("unknown", client=self.index, job=job.token,
                               why="no answer by the end of the drain")
        for jobs in link.waiting.values():
            for job in jobs:
                self.history.write("unresolved", client=self.index, job=job.token)
        link.conn.close()
        self.link = None

    def _lost(self, link: _Link, why: str) -> None:
        for job in link.in_flight:
            self.history.write("unknown", client=self.index, job=job.token, why=why)
        for jobs in link.waiting.values():
            for job in jobs:
                self.history.write("orphaned", client=self.index, job=job.token, why=why)
        link.in_flight.clear()
        link.waiting.clear()
        link.conn.close()
        if self.link is link:
            self.link = None
