"""What one server has done so far, as a model of jobs and workers, and the invariants on it.

Strategy: the model is fed each step's operation and that server's
normalized observation, and keeps only what the protocol makes observable:
which jobs exist (by handle symbol, with the submission that created them),
who submitted each in the foreground or background, which worker holds it,
which functions each worker registered, and who sent PRE_SLEEP. Each step it
checks, on this server alone:

  foreground-completes-once  a client gets no more WORK_COMPLETE/WORK_FAIL for a
                             handle than it made foreground submissions of it
  background-not-reported    WORK_* for a handle reaches a client only if that
                             client has a foreground submission of it
  status-counts              admin `status`/`prioritystatus` numbers are whole,
                             not negative, not wrapped (< 2^31), running <= total
  status-adds-up             `prioritystatus` right after `status`: high + normal
                             + low == total - running for each function
  handle-twice               a new job never gets a handle a live, different job
                             has; a job is never assigned while another
                             assignment of it is outstanding
  sleeper-woken              when a new runnable job arrives for a function, at
                             least one worker sleeping (PRE_SLEEP, no NOOP since)
                             with that function registered gets a NOOP

Where implementations may legitimately differ (WORK_EXCEPTION ends a job or
not, a lost worker's job is requeued or failed, a cancelled job lingers), the
model takes the lenient reading: an invariant flags only what no reading of
the protocol allows. The generator reads the first server's model to choose
its next operation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..protocol import BACKGROUND_SUBMIT_TYPES, PacketType
from .normalize import Item, Observation
from .ops import Op

T = PacketType
TERMINAL = ("WORK_COMPLETE", "WORK_FAIL")
WORK_TO_CLIENT = ("WORK_COMPLETE", "WORK_FAIL", "WORK_EXCEPTION", "WORK_DATA", "WORK_WARNING",
                  "WORK_STATUS")
ASSIGNS = ("JOB_ASSIGN", "JOB_ASSIGN_UNIQ", "JOB_ASSIGN_ALL")
WRAPPED = 2**31
_HANDLE = re.compile(r"\$\{h[0-9]+\}")


def handle_symbol(value: str) -> str:
    """``${h2}`` of ``${h2}`` or of ``${h2}\\0`` (a handle field with bytes after the handle)."""
    found = _HANDLE.match(value)
    return found.group(0) if found else value


@dataclass(frozen=True)
class Violation:
    invariant: str
    actor: str
    detail: str
    item: Item = ()  # the arrival that broke it, when one did


@dataclass
class Job:
    op_id: int           # the submission that created it
    fn: str
    unique: str
    data: str
    background: bool
    runnable: bool       # not a future epoch job
    holder: tuple[str, int] | None = None  # (worker, connection generation)
    done: bool = False


@dataclass
class Model:
    actors: list[str]
    connected: set[str] = field(default_factory=set)
    generation: Counter[str] = field(default_factory=Counter)
    jobs: dict[str, Job] = field(default_factory=dict)          # handle symbol -> job
    fg: dict[str, Counter[str]] = field(default_factory=dict)   # client -> handle -> count
    bg: dict[str, set[str]] = field(default_factory=dict)
    terminals: dict[str, Counter[str]] = field(default_factory=dict)
    registered: dict[str, Counter[str]] = field(default_factory=dict)  # worker -> fn -> n
    timeouts: dict[str, set[str]] = field(default_factory=dict)  # worker -> fns with a timeout
    sleeping: set[str] = field(default_factory=set)
    exceptions: set[str] = field(default_factory=set)  # actors that enabled the option
    step: int = 0
    last_status: tuple[int, dict[str, tuple[int, int, int]]] | None = None

    def __post_init__(self) -> None:
        for actor in self.actors:
            self._fresh(actor)
            self.connected.add(actor)

    def _fresh(self, actor: str) -> None:
        self.fg[actor] = Counter()
        self.bg[actor] = set()
        self.terminals[actor] = Counter()
        self.registered[actor] = Counter()
        self.timeouts[actor] = set()
        self.sleeping.discard(actor)
        self.exceptions.discard(actor)

    # -- queries for the generator ------------------------------------------------
    def handle_of_op(self, op_id: int) -> str | None:
        for handle, job in self.jobs.items():
            if job.op_id == op_id:
                return handle
        return None

    def held_by(self, worker: str) -> list[Job]:
        me = (worker, self.generation[worker])
        return [j for j in self.jobs.values() if j.holder == me and not j.done]

    def live_jobs(self) -> list[Job]:
        return [j for j in self.jobs.values() if not j.done]

    # -- one step -------------------------------------------------------------------
    def apply(self, op: Op, obs: Observation) -> list[Violation]:
        self.step += 1
        out: list[Violation] = []
        mine = obs.get(op.actor, ())
        self._before(op)
        if op.kind == "submit":
            out += self._submit(op, mine, obs)
        elif op.kind == "work":
            self._work_result(op, mine)
        elif op.kind == "admin":
            out += self._admin(op, mine)
        for actor, items in obs.items():
            out += self._arrivals(actor, items)
        if op.kind == "pre_sleep" and op.actor in self.connected \
                and ("NOOP",) not in mine:
            self.sleeping.add(op.actor)
        return out

    def _before(self, op: Op) -> None:
        actor = op.actor
        if op.kind not in ("pause", "admin") and actor:
            self.sleeping.discard(actor)
        if op.kind == "disconnect" and actor in self.connected:
            self._gone(actor)
        elif op.kind == "reconnect" and actor not in self.connected:
            self.generation[actor] += 1
            self._fresh(actor)
            self.connected.add(actor)
        elif op.kind in ("can_do", "can_do_timeout"):
            self.registered[actor][op.fn] += 1
            if op.kind == "can_do_timeout":
                self.timeouts[actor].add(op.fn)
        elif op.kind == "cant_do":
            self.registered[actor].pop(op.fn, None)
            self._release(actor, lambda j: j.fn == op.fn)
        elif op.kind == "reset_abilities":
            self.registered[actor].clear()
            self._release(actor, lambda j: True)
        elif op.kind == "pause":
            for worker, fns in self.timeouts.items():  # CAN_DO_TIMEOUT may have requeued
                self._release(worker, fns.__contains__, by_function=True)
        elif op.kind == "option" and op.text.lower() == "exceptions":
            self.exceptions.add(actor)

    def _gone(self, actor: str) -> None:
        self.connected.discard(actor)
        self._release(actor, lambda j: True)
        self.sleeping.discard(actor)

    def _release(self, worker: str, which: Callable[..., bool], by_function: bool = False,
                 ) -> None:
        """Forget that ``worker`` holds the jobs ``which(job)`` (``which(job.fn)`` with
        ``by_function``) picks."""
        me = (worker, self.generation[worker])
        for job in self.jobs.values():
            if job.holder == me and which(job.fn if by_function else job):
                job.holder = None

    def _submit(self, op: Op, mine: tuple[Item, ...], obs: Observation) -> list[Violation]:
        created = next((i for i in mine if i[0] == "JOB_CREATED"), None)
        if created is None:
            return []
        handle = created[1]
        background = op.ptype in BACKGROUND_SUBMIT_TYPES
        runnable = not (op.ptype == T.SUBMIT_JOB_EPOCH and op.epoch > 0)
        out: list[Violation] = []
        old = self.jobs.get(handle)
        coalesced = old is not None and not old.done
        if old is not None and not old.done:
            same = (old.fn == op.fn and op.unique not in ("",) and old.unique == op.unique
                    and (op.unique != "-" or old.data == op.data))
            if not same:
                out.append(Violation("handle-twice", op.actor,
                                     f"{handle} was given to a new submission ({op.describe()}) "
                                     f"while job#{old.op_id} ({old.fn}, unique "
                                     f"{old.unique!r}) still had it", created))
        if old is None or old.done:
            self.jobs[handle] = Job(op.id, op.fn, op.unique, op.data, background, runnable)
        if background:
            self.bg[op.actor].add(handle)
        else:
            self.fg[op.actor][handle] += 1
        if not coalesced and runnable:
            sleepers = [w for w in self.sleeping if self.registered[w][op.fn] > 0
                        and w in self.connected]
            if sleepers and not any(("NOOP",) in obs.get(w, ()) for w in sleepers):
                out.append(Violation("sleeper-woken", ",".join(sorted(sleepers)),
                                     f"{', '.join(sorted(sleepers))} slept with {op.fn} "
                                     f"registered; a new job for {op.fn} ({handle}) woke none"))
        return out

    def _work_result(self, op: Op, mine: tuple[Item, ...]) -> None:
        if op.packet not in ("WORK_COMPLETE", "WORK_FAIL", "WORK_EXCEPTION") or op.bogus:
            return
        if any(i[0] == "ERROR" for i in mine):
            return
        handle = self.handle_of_op(op.job)
        job = self.jobs.get(handle) if handle is not None else None
        if job is not None and job.holder == (op.actor, self.generation[op.actor]):
            job.holder = None
            job.done = op.packet != "WORK_EXCEPTION"  # not terminal everywhere (Perl)

    def _admin(self, op: Op, mine: tuple[Item, ...]) -> list[Violation]:
        reply = next((i for i in mine if i[0] == "admin"), None)
        if reply is None:
            return []
        words = op.admin_words
        if words == "cancel job" and len(reply) > 2 and reply[2].startswith("OK"):
            handle = self.handle_of_op(op.job)
            if handle is not None:
                self.jobs[handle].done = True
                self.jobs[handle].holder = None
            return []
        if words not in ("status", "prioritystatus"):
            return []
        rows: dict[str, tuple[int, ...]] = {}
        out: list[Violation] = []
        for row in reply[2:]:
            cols = row.split("\t")
            if len(cols) < 2 or row == ".":
                continue
            try:
                numbers = tuple(int(c) for c in cols[1:])
            except ValueError:
                out.append(Violation("status-counts", op.actor,
                                     f"{words} row {row!r} has a column that is not a number"))
                continue
            rows[cols[0]] = numbers
            if any(n < 0 or n >= WRAPPED for n in numbers):
                out.append(Violation("status-counts", op.actor,
                                     f"{words} row {row!r}: a count is negative or wrapped"))
            elif words == "status" and len(numbers) >= 2 and numbers[1] > numbers[0]:
                out.append(Violation("status-counts", op.actor,
                                     f"status row {row!r}: running > total"))
        if words == "status":
            self.last_status = (self.step, {k: v[:3] for k, v in rows.items()  # type: ignore[misc]
                                            if len(v) >= 3})
        elif self.last_status is not None and self.last_status[0] == self.step - 1:
            for fn, (total, running, _workers) in self.last_status[1].items():
                prio = rows.get(fn)
                if prio is not None and len(prio) >= 3 and sum(prio[:3]) != total - running:
                    out.append(Violation(
                        "status-adds-up", op.actor,
                        f"{fn}: status says total {total}, running {running}, but "
                        f"prioritystatus queues high+normal+low = {sum(prio[:3])}"))
        return out

    def _arrivals(self, actor: str, items: tuple[Item, ...]) -> list[Violation]:
        out: list[Violation] = []
        for item in items:
            kind = item[0]
            if kind == "closed":
                self._gone(actor)
            elif kind == "NOOP":
                self.sleeping.discard(actor)
            elif kind in ASSIGNS and len(item) > 1:
                out += self._assigned(actor, handle_symbol(item[1]), item)
            elif kind in WORK_TO_CLIENT and len(item) > 1 and actor[0] != "w":
                handle = handle_symbol(item[1])
                if self.fg[actor][handle] == 0:
                    why = ("a background job was reported to its submitter"
                           if handle in self.bg[actor] else
                           "a work result reached a client that never submitted the job")
                    out.append(Violation("background-not-reported", actor,
                                         f"{why}: {actor} got {kind} {handle}", item))
                elif kind in TERMINAL:
                    self.terminals[actor][handle] += 1
                    if self.terminals[actor][handle] > self.fg[actor][handle]:
                        out.append(Violation(
                            "foreground-completes-once", actor,
                            f"{actor} got {kind} for {handle} "
                            f"{self.terminals[actor][handle]} times after "
                            f"{self.fg[actor][handle]} foreground submission(s)", item))
        return out

    def _assigned(self, worker: str, handle: str, item: Item) -> list[Violation]:
        job = self.jobs.get(handle)
        me = (worker, self.generation[worker])
        if job is None:
            return []
        out = []
        if job.holder is not None and not job.done:
            holder, gen = job.holder
            if holder in self.connected and self.generation[holder] == gen:
                out.append(Violation("handle-twice", worker,
                                     f"{handle} was assigned to {worker} while {holder} "
                                     f"still held it", item))
        job.holder = me
        return out
