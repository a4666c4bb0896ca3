"""The Locust client user: one connection, a window of jobs in flight.

Strategy: a user is one gevent greenlet driving one ``wire.Connection`` (one
TCP connection to the server, reopened after a loss by ``ReconnectingUser``).
It keeps up to ``in_flight`` submissions outstanding and writes them in
batches (pipelining: one write per refill). Replies are decoded with the
shared ``protocol.Decoder``.

Matching replies to submissions, so that one missing, extra or reordered
reply is blamed once and never shifts the others:
- JOB_CREATED carries only a handle, so a FIFO of submissions (in runs of
  consecutive ones) matches it by order; that match is used for the
  "created" latency and is provisional. Every handle is also written, in
  order, to the user's ``AckBook``; the master checks it against the
  workers' executions (``ledger``). A JOB_CREATED with nothing left in the
  FIFO is a duplicate; whatever is left in the FIFO when the run ends was
  never acknowledged (``never_created``).
- Foreground submissions wait by their seq in ``fg_pending``. A worker's
  WORK_COMPLETE / WORK_EXCEPTION starts with the job id the payload carried
  (``jobids``), so a result names its own submission whatever the FIFO
  thought; the handle (from JOB_CREATED) is the fallback for WORK_FAIL,
  which has no data, and for submissions coalesced onto another user's job.
  A result with no submission left waiting for it is a duplicate.
- When the master's flush message says the run is over, whatever is still
  outstanding is handed to the ledger (``give_up``): the master decides,
  from the workers' executions, whether each was lost or never created.

Closed model: the window is refilled as soon as replies free it. Open model:
each user follows its own arrival plan (constant interval or Poisson), sends
every job whose planned time has come as long as the window has room, records
latency both from the real send and from the *intended* send (wrk2's
coordinated-omission-free method) and counts sends that started more than
``late_after`` behind plan.

Every created / result is recorded in microseconds in the process's HDR
histograms and in Locust's statistics under the name
"<function> <priority> <fg|bg>" (request_type SUBMIT for JOB_CREATED, JOB for
the final result), so Locust's UI, HTML and CSV break results down the same way.

The per-job cost is what limits one generator process, so the hot path works
in groups: a batch is encoded as one bytes join (with a constant payload size
the codec encodes each (function, priority, fg/bg, unique) prefix once), the
FIFO holds runs of consecutive submissions rather than one record per job,
and replies that arrive in one recv chunk and were sent in one batch (hence
share a latency) are recorded once with a count, in the HDR histograms and
in Locust's stats (``Measurements.observe``: exact counts and
percentiles; failed jobs still fire ``events.request`` one by one).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from itertools import accumulate
from typing import Any
from uuid import uuid4

import gevent
from locust import task

from ..protocol import Magic, Packet, PacketType, Priority, encode, submit_type
from ..wire import WireError
from .jobids import PREFIX, make_payload, new_origin
from .ledger import CONNECTION_LOST, STOPPED, TIMED_OUT, UNANSWERED
from .profile import ClientMix
from .reconnecting_user import ReconnectingUser

_PRIORITY = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}
_FINAL = {PacketType.WORK_COMPLETE: "complete", PacketType.WORK_FAIL: "fail",
          PacketType.WORK_EXCEPTION: "exception"}
_PROGRESS = (PacketType.WORK_STATUS, PacketType.WORK_DATA, PacketType.WORK_WARNING)
_RECV_CHUNK = 256 * 1024
_DRAIN_POLL_S = 0.2


class JobFailed(Exception):
    """A foreground job ended in WORK_FAIL or WORK_EXCEPTION."""


class _Run:
    """Consecutive submissions of one batch that share everything but their seq:
    request name, fg/bg, payload size, send time and intended send time. Their
    JOB_CREATED replies come back in order, and those that arrive in one chunk
    share a latency, so they are recorded (HDR, Locust) as one group."""

    __slots__ = ("background", "count", "name", "plan_ns", "send_ns", "seq", "size")

    def __init__(self, name: str, background: bool, seq: int, send_ns: int, plan_ns: int,
                 size: int) -> None:
        self.name = name
        self.background = background
        self.seq = seq  # the next submission of the run still awaiting JOB_CREATED
        self.count = 1  # how many still await it
        self.send_ns = send_ns
        self.plan_ns = plan_ns
        self.size = size


# A foreground submission waiting for its final result: (name, send_ns, plan_ns, size).
_Waiting = tuple[str, int, int, int]


class GearmanClientUser(ReconnectingUser):
    """Submits jobs as its ``mix`` (set on generated subclasses) says."""

    abstract = True
    mix: ClientMix
    role = "client"
    # Payloads shorter than the job id carry it as their unique id with the "none"
    # policy too (replays, whose payload sizes must stay as recorded).
    small_payload_ids = False

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.origin = new_origin().encode()
        self.echo_prefix = PREFIX + self.origin + b":"
        self.seq = 0
        self.awaiting_created: deque[_Run] = deque()
        self.fg_pending: dict[int, _Waiting] = {}  # seq -> submission awaiting its result
        self.fg_by_handle: dict[bytes, list[int]] = {}  # handle -> seqs (from JOB_CREATED)
        self.outstanding = 0
        self.finished = False
        self.book = self.m.ledger.book(self.origin, self.mix.unique_policy == "pool")
        self.m.clients.add(self)
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
        # Constant payload size and a finite set of uniques: every packet of a
        # (function, priority, fg/bg, unique) is the same header and arguments
        # followed by a payload of the same length, so the codec encodes that
        # prefix once (see _prefix) and a job costs one bytes join.
        self.templates: dict[tuple[bytes, str, bool, bytes], bytes] | None = (
            {} if self.const_size is not None and mix.unique_policy != "random" else None)
        self.uniform: tuple[bool, bytes, str, int] | None = None
        if (len(self.functions) == 1 and len(self.prios) == 1 and mix.background in (0.0, 1.0)
                and self.const_size is not None and mix.unique_policy == "none"
                and self.const_size >= 64 and not self.small_payload_ids):
            fn, prio, bg = self.functions[0], self.prios[0], mix.background == 1.0
            self.uniform = (bg, self._prefix(fn, prio, bg, b""), self.names[(fn, prio, bg)],
                            self.const_size)

    def _prefix(self, fn: bytes, prio: str, bg: bool, unique: bytes) -> bytes:
        """Everything before the payload, encoded by the shared codec."""
        assert self.const_size is not None and self.templates is not None
        size = self.const_size
        whole = encode(Packet(Magic.REQ, self.types[(prio, bg)], (fn, unique, b"\0" * size)))
        prefix = self.templates[(fn, prio, bg, unique)] = whole[:len(whole) - size]
        return prefix

    # -- Locust lifecycle --------------------------------------------------
    def on_start(self) -> None:
        self.conn = self._open()

    def on_stop(self) -> None:
        # Stopped by the shape or the UI with jobs in flight: those are abandoned
        # (reported apart), not lost: nobody waited for them. The master still
        # learns which of them a worker had already run.
        if not self.finished:
            self.give_up(STOPPED)
        self.m.clients.discard(self)
        self.book.closed = True
        if self.conn is not None:
            self.conn.close()

    @task
    def submit_forever(self) -> None:
        self._run_reconnecting(self._loop)

    def _connection_lost(self) -> None:
        self.give_up(CONNECTION_LOST)

    # -- the loop ----------------------------------------------------------
    def _loop(self) -> None:
        mix = self.mix
        assert self.conn is not None
        sock = self.conn.sock
        decoder = self.conn.decoder
        window = mix.in_flight
        open_model = mix.open_model
        m = self.m
        scale = m.rate_scale
        plans = self._arrival_plan(scale) if open_model and scale > 0 else None
        next_plan = next(plans) if plans is not None else 0
        late_ns = int(mix.late_after * 1e9)
        next_sweep = time.monotonic() + 1.0
        while True:
            if self.m.draining or self.finished:
                self._drain(sock, decoder)
                return
            now = time.perf_counter_ns()
            if open_model and m.rate_scale != scale:  # capacity mode: a new step's rate
                scale = m.rate_scale
                plans = self._arrival_plan(scale) if scale > 0 else None
                next_plan = next(plans) if plans is not None else 0
            if open_model and plans is None:  # offering nothing (capacity mode, at the end)
                gevent.sleep(0.2)
                continue
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
                        next_plan = next(plans)  # type: ignore[arg-type]
            if open_model and self.outstanding < window:
                wait = max(0.0, (next_plan - time.perf_counter_ns()) / 1e9)
                if self.outstanding == 0:
                    gevent.sleep(min(wait, 1.0))  # wakes up for the drain message too
                    continue
                sock.settimeout(max(wait, 0.0001))
            elif sock.timeout is not None:
                # Closed model: replies free the window, so block on them with no timer
                # per read (the process's sweeper expires old jobs; the flush ends us).
                sock.settimeout(None)
            try:
                data = sock.recv(_RECV_CHUNK)
            except TimeoutError:
                data = None
            if data is not None:
                if not data:
                    raise WireError(f"{self.rt.address} closed the client connection")
                decoder.feed(data)
                self._consume(decoder)
            if open_model and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + 1.0
                self.expire()

    def _arrival_plan(self, scale: float = 1.0) -> Iterator[int]:
        """Open model: the planned send times (perf_counter ns), constant or Poisson, at
        the mix's rate per user times the profile's speed and ``scale`` (a capacity
        search's step; gearcheck.swarm.replay plans rate stages instead)."""
        rate = self.mix.rate * self.rt.profile.speed * scale
        interval = int(1e9 / rate)
        plan = time.perf_counter_ns()
        while True:
            yield plan
            plan += int(self.rng.expovariate(rate) * 1e9) if self.mix.poisson else interval

    def _send_uniform(self, count: int, now_ns: int, plan_ns: int) -> None:
        """``_send_batch`` when every submission is alike (one function and priority, all
        fg or all bg, one payload size, no unique): one encoded prefix, one list of
        payloads, one run."""
        bg, prefix, name, size = self.uniform  # type: ignore[misc]
        seq = self.seq
        origin = self.origin
        filler = self.filler
        payloads = [make_payload(origin, s, bg, size, filler) for s in range(seq, seq + count)]
        waiting = self.awaiting_created
        run = waiting[-1] if waiting else None
        if (run is not None and run.send_ns == now_ns and run.plan_ns == plan_ns
                and run.seq + run.count == seq):
            run.count += count
        else:
            run = _Run(name, bg, seq, now_ns, plan_ns, size)
            run.count = count
            waiting.append(run)
        if not bg:
            entry = (name, now_ns, plan_ns, size)
            pending = self.fg_pending
            for s in range(seq, seq + count):
                pending[s] = entry
        self.seq = seq + count
        self._write(prefix + prefix.join(payloads))
        self.outstanding += count
        self.m.in_flight += count
        self.m.ledger.counts["bg_submitted" if bg else "fg_submitted"] += count
        self.m.tick("submitted", count)

    def _write(self, data: bytes) -> None:
        """One write (gevent's sendall asks the kernel for SO_SNDBUF on every call)."""
        assert self.conn is not None
        sock = self.conn.sock
        sent = sock.send(data)
        if sent < len(data):
            sock.sendall(data[sent:])

    def _send_batch(self, count: int, now_ns: int, plan_ns: int) -> None:
        if self.uniform is not None:
            self._send_uniform(count, now_ns, plan_ns)
            return
        rng = self.rng
        mix = self.mix
        chunks: list[bytes] = []
        waiting = self.awaiting_created
        run = waiting[-1] if waiting else None
        background_share = mix.background
        functions = self.functions
        prios = self.prios
        policy = mix.unique_policy
        templates = self.templates
        const_size = self.const_size
        origin = self.origin
        filler = self.filler
        fg_pending = self.fg_pending
        small_ids = self.small_payload_ids
        seq = self.seq
        fg = 0
        for _ in range(count):
            fn = functions[0] if len(functions) == 1 else \
                rng.choices(functions, cum_weights=self.fn_cum)[0]
            prio = prios[0] if len(prios) == 1 else \
                rng.choices(prios, cum_weights=self.prio_cum)[0]
            bg = background_share >= 1.0 or (background_share > 0.0
                                             and rng.random() < background_share)
            size = const_size if const_size is not None else \
                int(mix.payload_bytes.sample(rng))
            payload = make_payload(origin, seq, bg, size, filler)
            id_unique = len(payload) > size and (policy == "random"
                                                 or (small_ids and policy == "none"))
            if id_unique:
                # The job id does not fit: it travels as the job's unique id (one per job,
                # as "random" sends anyway) and the payload keeps its size.
                unique, payload = payload, filler[:size]
            elif policy == "none":
                unique = b""
            elif policy == "random":
                unique = uuid4().hex.encode()
            else:
                unique = self.pool[rng.randrange(len(self.pool))]
            if templates is not None and len(payload) == size and not id_unique:
                prefix = templates.get((fn, prio, bg, unique)) or self._prefix(fn, prio, bg,
                                                                               unique)
                chunks.append(prefix)
                chunks.append(payload)
            else:
                chunks.append(encode(Packet(Magic.REQ, self.types[(prio, bg)],
                                            (fn, unique, payload))))
            name = self.names[(fn, prio, bg)]
            size = len(payload)
            if (run is not None and run.name == name and run.background == bg
                    and run.size == size and run.send_ns == now_ns and run.plan_ns == plan_ns
                    and run.seq + run.count == seq):
                run.count += 1
            else:
                run = _Run(name, bg, seq, now_ns, plan_ns, size)
                waiting.append(run)
            if not bg:
                fg += 1
                fg_pending[seq] = (name, now_ns, plan_ns, size)
            seq += 1
        self.seq = seq
        self._write(b"".join(chunks))
        self.outstanding += count
        self.m.in_flight += count
        counts = self.m.ledger.counts
        if fg:
            counts["fg_submitted"] += fg
        if count - fg:
            counts["bg_submitted"] += count - fg
        self.m.tick("submitted", count)

    def _consume(self, decoder: Any) -> None:
        m = self.m
        # One clock reading per received chunk: every reply in it arrived together.
        now_ns = time.perf_counter_ns()
        wall = time.time()
        second = int(wall)
        waiting = self.awaiting_created
        next_event = decoder.next_event
        take_run = decoder.take_run
        job_created = PacketType.JOB_CREATED
        groups: dict[_Run, int] = {}  # run -> its replies in this chunk (one latency)
        finals: dict[tuple[_Waiting, str], int] = {}
        bg_created = 0
        while True:
            if waiting:  # the common case: a run of JOB_CREATED, taken in one call
                handles = take_run(job_created, self.outstanding + 1)
                if handles:
                    bg_created += self._acknowledged(handles, groups)
                    continue
            event = next_event()
            if event is None:
                break
            if not isinstance(event, Packet):
                m.error("client: unexpected admin line")
                continue
            ptype = event.type
            if ptype == job_created:
                bg_created += self._acknowledged([event.args[0]], groups)
            elif ptype in _FINAL:
                key = self._final(event, _FINAL[ptype])
                if key is not None:
                    finals[key] = finals.get(key, 0) + 1
            elif ptype in _PROGRESS:
                m.ledger.counts["fg_progress_packets"] += 1
            elif ptype == PacketType.ERROR:
                self._rejected(event)
            else:
                m.error(f"client: unexpected {event.name}")
        if groups:
            self._record_created(groups, now_ns, second, wall)
            if bg_created:
                m.tick("bg_created", bg_created, wall)
                self.outstanding -= bg_created
                m.in_flight -= bg_created
        if finals:
            self._record_results(finals, now_ns, second, wall)

    def _acknowledged(self, handles: list[bytes], groups: dict[_Run, int]) -> int:
        """JOB_CREATED replies, in order: matched to the oldest submissions waiting for
        one, written to the ack book; how many were for background submissions."""
        waiting = self.awaiting_created
        book = self.book
        n = len(handles)
        i = bg = 0
        while i < n:
            if not waiting:
                self.m.ledger.counts["created_extra"] += n - i  # nothing left to acknowledge
                break
            run = waiting[0]
            take = min(run.count, n - i)
            chunk = handles if take == n else handles[i:i + take]
            seq = run.seq
            book.handles.extend(chunk)
            book.runs.append([seq, take, run.background])
            if run.background:
                bg += take
            else:
                by_handle = self.fg_by_handle
                for handle in chunk:
                    seqs = by_handle.get(handle)
                    if seqs is None:
                        by_handle[handle] = [seq]
                    else:
                        seqs.append(seq)
                    seq += 1
            run.seq += take
            run.count -= take
            if not run.count:
                waiting.popleft()
            groups[run] = groups.get(run, 0) + take
            i += take
        return bg

    def _record_created(self, groups: dict[_Run, int], now_ns: int, second: int,
                        wall: float) -> None:
        observe = self.m.observe
        created = 0
        for run, n in groups.items():
            observe("created", "SUBMIT", run.name, (now_ns - run.send_ns) // 1000, run.size, n,
                    wall)
            created += n
        self.m.tick("created", created, wall)

    def _final(self, event: Packet, outcome: str) -> tuple[_Waiting, str] | None:
        """The submission a final result answers (None: a duplicate result).

        The result's data names its job (the worker echoes the payload's job
        id), so that is tried first; the handle's submissions, as JOB_CREATED
        matched them, are the fallback."""
        args = event.args
        handle = args[0]
        if handle.endswith(b"\0"):  # gearmand's WORK_FAIL for a WORK_EXCEPTION: HANDLE\0
            handle = handle[:-1]
        pending = self.fg_pending
        seqs = self.fg_by_handle.get(handle)
        if len(args) > 1:
            data = args[1]
            prefix = self.echo_prefix
            if data.startswith(prefix):
                cut = len(prefix)
                try:
                    seq = int(data[cut:data.find(b":", cut)])
                except ValueError:
                    seq = -1
                entry = pending.pop(seq, None)
                if entry is not None:
                    if seqs is not None and seq in seqs:
                        seqs.remove(seq)
                        if not seqs:
                            del self.fg_by_handle[handle]
                    return entry, outcome
        # No job id of ours (WORK_FAIL, a coalesced job): the handle's oldest waiting one.
        while seqs:
            entry = pending.pop(seqs.pop(0), None)
            if not seqs:
                del self.fg_by_handle[handle]
            if entry is not None:
                return entry, outcome
        self.m.ledger.counts["fg_duplicate_results"] += 1
        return None

    def _record_results(self, finals: dict[tuple[_Waiting, str], int], now_ns: int,
                        second: int, wall: float) -> None:
        m = self.m
        counts = m.ledger.counts
        observe = m.observe
        total = 0
        for ((name, send_ns, plan_ns, size), outcome), n in finals.items():
            micros = (now_ns - send_ns) // 1000
            if plan_ns:
                observe("result_intended", "", name, (now_ns - plan_ns) // 1000, 0, n, wall)
            if outcome == "complete":
                observe("result", "JOB", name, micros, size, n, wall)
            else:
                observe("result", "", name, micros, size, n, wall)
                exc = JobFailed(f"WORK_{outcome.upper()}")
                for _ in range(n):
                    self.fire(request_type="JOB", name=name, response_time=micros / 1000,
                              response_length=size, exception=exc, context={})
            counts[f"fg_{outcome}"] += n
            total += n
        counts["fg_results"] += total
        self.outstanding -= total
        m.in_flight -= total
        m.tick("results", total, wall)

    def _rejected(self, event: Packet) -> None:
        """An ERROR reply: the oldest submission awaiting JOB_CREATED was refused."""
        m = self.m
        m.error(f"client: ERROR {event.args[0].decode(errors='replace')}")
        waiting = self.awaiting_created
        if not waiting:
            return
        run = waiting[0]
        seq = run.seq
        run.seq += 1
        run.count -= 1
        if not run.count:
            waiting.popleft()
        self.outstanding -= 1
        m.in_flight -= 1
        if not run.background:
            self.fg_pending.pop(seq, None)
        m.ledger.counts["submit_rejected"] += 1
        self.fire(request_type="SUBMIT", name=run.name, response_time=0,
                  response_length=0, exception=WireError(repr(event)), context={})

    def expire(self) -> None:
        """Foreground jobs older than job_timeout are given up on (the ledger judges them)."""
        limit = time.perf_counter_ns() - self.timeout_ns
        stale = [seq for seq, w in self.fg_pending.items() if w[1] < limit]
        if stale:
            for seq in stale:
                del self.fg_pending[seq]
            self.m.ledger.gave_up.append([TIMED_OUT, self.origin, stale])
            self.outstanding -= len(stale)
            self.m.in_flight -= len(stale)

    def _drain(self, sock: Any, decoder: Any) -> None:
        """Submit nothing more; read replies until the master's flush says the run is
        over (``finish``), so that late and extra replies are still seen."""
        next_sweep = time.monotonic() + 1.0
        while not self.finished:
            sock.settimeout(_DRAIN_POLL_S)
            try:
                data = sock.recv(_RECV_CHUNK)
            except TimeoutError:
                data = None
            if self.is_finished():  # the flush may have come while we waited
                break
            if data is not None:
                if not data:
                    raise WireError(f"{self.rt.address} closed the client connection")
                decoder.feed(data)
                self._consume(decoder)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + 1.0
                self.expire()
        while True:  # idle until Locust stops this user
            gevent.sleep(1.0)

    def is_finished(self) -> bool:
        return self.finished

    def finish(self) -> None:
        """The run is over (the master's flush): hand what is still outstanding to the ledger."""
        if not self.finished:
            self.finished = True
            self.give_up(UNANSWERED)

    def give_up(self, reason: str) -> None:
        """Stop waiting for everything in flight; the ledger learns which and why."""
        ledger = self.m.ledger
        if self.fg_pending:
            ledger.gave_up.append([reason, self.origin, list(self.fg_pending)])
        unacked_fg = sum(r.count for r in self.awaiting_created if not r.background)
        unacked_bg = sum(r.count for r in self.awaiting_created if r.background)
        if unacked_fg:
            ledger.counts[f"unacked_fg_{reason}"] += unacked_fg
        if unacked_bg:
            ledger.counts[f"unacked_bg_{reason}"] += unacked_bg
        self.m.in_flight -= self.outstanding
        self.outstanding = 0
        self.fg_pending.clear()
        self.fg_by_handle.clear()
        self.awaiting_created.clear()
