"""The seeded choice of the next operation, steered by what the first server's model says.

Strategy: a plain ``random.Random`` seeded per sequence (run seed and sequence
number), so a seed reproduces a run as long as the servers answer the same way.
Each step picks an operation kind by weight, with weights that follow the state
(results are likely when a worker holds a job, reconnects when a connection is
down), then fills in the actor, function, unique, job and payload from small
pools, so coincidences (two submissions of one unique, a result for a job
another worker holds, a cancel of a running job) happen often. Only what every
server in the run supports (the probe's capabilities) is generated, so a
missing feature is reported once by the probe and never as a divergence.

Why not hypothesis' RuleBasedStateMachine: a step here costs round trips to
several live servers, and a sequence must be replayable on demand (to confirm
and to shrink it) and written out as a case; a hand-rolled generator over plain
data keeps generation, replay and shrinking one simple loop, bounded by a time
budget, with the run reproducible from ``--seed``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..protocol import PacketType
from .model import Job, Model
from .ops import Op

T = PacketType
CLIENTS = ("c1", "c2")
WORKERS = ("w1", "w2")
ADMIN = "adm"
ACTORS = (*CLIENTS, *WORKERS, ADMIN)

SUBMITS = ("SUBMIT_JOB", "SUBMIT_JOB_BG", "SUBMIT_JOB_HIGH", "SUBMIT_JOB_HIGH_BG",
           "SUBMIT_JOB_LOW", "SUBMIT_JOB_LOW_BG", "SUBMIT_JOB_EPOCH", "SUBMIT_REDUCE_JOB",
           "SUBMIT_REDUCE_JOB_BACKGROUND")
SUBMIT_WEIGHTS = (30, 14, 8, 5, 8, 5, 4, 2, 2)
GRABS = ("GRAB_JOB", "GRAB_JOB_UNIQ", "GRAB_JOB_ALL")
GRAB_WEIGHTS = (6, 3, 2)
RESULTS = ("WORK_COMPLETE", "WORK_FAIL", "WORK_EXCEPTION", "WORK_DATA", "WORK_WARNING",
           "WORK_STATUS")
RESULT_WEIGHTS = (30, 10, 12, 14, 10, 12)
ADMIN_WEIGHTS = {"status": 22, "prioritystatus": 8, "workers": 8, "show jobs": 10,
                 "show unique jobs": 6, "cancel job {job}": 9, "create function {fn}": 4,
                 "drop function {fn}": 5, "maxqueue {fn} {number}": 5}
DATA = ("a", "bb", "", "x\0y", "ccc")
UNIQUES = ("", "", "u1", "u1", "u2", "-")
OPTIONS = ("exceptions", "exceptions", "EXCEPTIONS", "bogus-option")


@dataclass
class _Now:
    """Who is up, and what the workers hold, at the step being chosen."""

    model: Model
    clients: list[str]
    workers: list[str]
    held: list[tuple[str, Job]]
    down: list[str]


class Generator:
    def __init__(self, seed: int, sequence: int, capabilities: Iterable[str]) -> None:
        self.rng = random.Random(f"gearcheck-explore:{seed}:{sequence}")
        caps = set(capabilities)
        self.caps = caps
        self.submits = [(p, w) for p, w in zip(SUBMITS, SUBMIT_WEIGHTS, strict=True)
                        if f"packet:{p}" in caps]
        self.grabs = [(p, w) for p, w in zip(GRABS, GRAB_WEIGHTS, strict=True)
                      if f"packet:{p}" in caps]
        self.results = [(p, w) for p, w in zip(RESULTS, RESULT_WEIGHTS, strict=True)
                        if f"packet:{p}" in caps]
        self.admin = [(c, w) for c, w in ADMIN_WEIGHTS.items()
                      if "admin:" + " ".join(x for x in c.split() if "{" not in x) in caps]
        self.functions = [f"f{n}" for n in range(1, self.rng.choice((1, 2, 2, 3)) + 1)]
        self.length = self.rng.randint(6, 30)
        self.next_id = 0
        self.pending: list[Op] = []

    def has(self, packet: str) -> bool:
        return f"packet:{packet}" in self.caps

    def _op(self, kind: str, **kw: object) -> Op:
        op = Op(self.next_id, kind, **kw)  # type: ignore[arg-type]
        self.next_id += 1
        return op

    def _pick(self, pairs: list[tuple[str, int]]) -> str:
        return self.rng.choices([p for p, _ in pairs], [w for _, w in pairs])[0]

    def done(self) -> bool:
        return self.next_id >= self.length and not self.pending

    def next(self, model: Model) -> Op:
        """The next operation, given the first server's model of the run so far."""
        if self.pending:
            return self.pending.pop(0)
        down = [a for a in ACTORS if a not in model.connected]
        choices: list[tuple[str, int]] = []

        def want(kind: str, weight: int, ok: bool = True) -> None:
            if ok and weight > 0:
                choices.append((kind, weight))

        up_clients = [c for c in CLIENTS if c in model.connected]
        up_workers = [w for w in WORKERS if w in model.connected]
        held = [(w, j) for w in up_workers for j in model.held_by(w)]
        want("submit", 24, bool(up_clients and self.submits))
        want("grab", 14, bool(up_workers and self.grabs))
        want("can_do", 9 if not any(model.registered[w] for w in up_workers) else 5,
             bool(up_workers) and self.has("CAN_DO"))
        want("can_do_timeout", 1, bool(up_workers) and self.has("CAN_DO_TIMEOUT"))
        want("cant_do", 2, bool(up_workers) and self.has("CANT_DO"))
        want("reset_abilities", 1, bool(up_workers) and self.has("RESET_ABILITIES"))
        want("pre_sleep", 5, bool(up_workers) and self.has("PRE_SLEEP"))
        want("work", 22 if held else 1, bool(up_workers and self.results))
        want("get_status", 4, bool(up_clients) and self.has("GET_STATUS"))
        want("get_status_unique", 2, bool(up_clients) and self.has("GET_STATUS_UNIQUE"))
        want("option", 4 if set(up_clients) - model.exceptions else 1,
             bool(up_clients) and self.has("OPTION_REQ"))
        want("echo", 1, self.has("ECHO_REQ"))
        want("set_client_id", 1, self.has("SET_CLIENT_ID"))
        want("admin", 9, ADMIN in model.connected and bool(self.admin))
        want("disconnect", 3)
        want("reconnect", 12 if down else 0)
        want("pause", 1)
        kind = self._pick(choices)
        builders: dict[str, Callable[[_Now], Op]] = {
            "submit": self._submit, "grab": self._grab, "can_do": self._can_do,
            "can_do_timeout": self._can_do_timeout, "cant_do": self._cant_do,
            "reset_abilities": self._reset_abilities, "pre_sleep": self._pre_sleep,
            "work": self._work, "get_status": self._get_status,
            "get_status_unique": self._get_status_unique, "option": self._option,
            "echo": self._echo, "set_client_id": self._set_client_id, "admin": self._admin,
            "disconnect": self._disconnect, "reconnect": self._reconnect, "pause": self._pause}
        return builders[kind](_Now(model, up_clients, up_workers, held, down))

    # -- one builder per kind -----------------------------------------------------
    def _fn(self) -> str:
        return self.rng.choice(self.functions)

    def _any_job(self, model: Model) -> tuple[int, bool]:
        """(job id, bogus): usually a job of this run, sometimes a handle nobody has."""
        jobs = [j.op_id for j in model.jobs.values()]
        if jobs and self.rng.random() < 0.9:
            live = [j.op_id for j in model.live_jobs()]
            return self.rng.choice(live if live and self.rng.random() < 0.8 else jobs), False
        return -1, True

    def _submit(self, now: _Now) -> Op:
        clients = now.clients
        packet = self._pick(self.submits)
        actor = self.rng.choice(clients)
        kw: dict[str, object] = {"actor": actor, "packet": packet, "fn": self._fn(),
                                 "unique": self.rng.choice(UNIQUES),
                                 "data": self.rng.choice(DATA)}
        if packet == "SUBMIT_JOB_EPOCH":
            kw["epoch"] = self.rng.choice((-30, -30, 3600))
        if "REDUCE" in packet:
            kw["reducer"] = "r1"
        return self._op("submit", **kw)

    def _grab(self, now: _Now) -> Op:
        workers = now.workers
        return self._op("grab", actor=self.rng.choice(workers), packet=self._pick(self.grabs))

    def _can_do(self, now: _Now) -> Op:
        workers = now.workers
        return self._op("can_do", actor=self.rng.choice(workers), packet="CAN_DO", fn=self._fn())

    def _can_do_timeout(self, now: _Now) -> Op:
        workers = now.workers
        return self._op("can_do_timeout", actor=self.rng.choice(workers),
                        packet="CAN_DO_TIMEOUT", fn=self._fn(), number=600000)

    def _cant_do(self, now: _Now) -> Op:
        workers = now.workers
        return self._op("cant_do", actor=self.rng.choice(workers), packet="CANT_DO",
                        fn=self._fn())

    def _reset_abilities(self, now: _Now) -> Op:
        workers = now.workers
        return self._op("reset_abilities", actor=self.rng.choice(workers),
                        packet="RESET_ABILITIES")

    def _pre_sleep(self, now: _Now) -> Op:
        workers = now.workers
        return self._op("pre_sleep", actor=self.rng.choice(workers), packet="PRE_SLEEP")

    def _work(self, now: _Now) -> Op:
        model, workers, held = now.model, now.workers, now.held
        packet = self._pick(self.results)
        data = self.rng.choice(DATA[:2] + DATA[3:])
        number = self.rng.randint(0, 4)
        if held and self.rng.random() < 0.92:
            worker, job = self.rng.choice(held)
            return self._op("work", actor=worker, packet=packet, job=job.op_id, data=data,
                            number=number)
        job_id, bogus = self._any_job(model)
        return self._op("work", actor=self.rng.choice(workers), packet=packet, job=job_id,
                        bogus=bogus, data=data, number=number)

    def _get_status(self, now: _Now) -> Op:
        clients = now.clients
        job_id, bogus = self._any_job(now.model)
        return self._op("get_status", actor=self.rng.choice(clients), packet="GET_STATUS",
                        job=job_id, bogus=bogus)

    def _get_status_unique(self, now: _Now) -> Op:
        clients = now.clients
        return self._op("get_status_unique", actor=self.rng.choice(clients),
                        packet="GET_STATUS_UNIQUE", unique=self.rng.choice(("u1", "u2")))

    def _option(self, now: _Now) -> Op:
        clients = now.clients
        return self._op("option", actor=self.rng.choice(clients), packet="OPTION_REQ",
                        text=self.rng.choice(OPTIONS))

    def _echo(self, now: _Now) -> Op:
        model = now.model
        actor = self.rng.choice(sorted(model.connected - {ADMIN}) or [CLIENTS[0]])
        return self._op("echo", actor=actor, packet="ECHO_REQ",
                        data=self.rng.choice(("ping", "x\0y", "")))

    def _set_client_id(self, now: _Now) -> Op:
        model = now.model
        actor = self.rng.choice(sorted(model.connected - {ADMIN}) or [WORKERS[0]])
        return self._op("set_client_id", actor=actor, packet="SET_CLIENT_ID", text="b")

    def _admin(self, now: _Now) -> Op:
        model = now.model
        command = self._pick(self.admin)
        kw: dict[str, object] = {"actor": ADMIN, "text": command}
        if "{fn}" in command:
            kw["fn"] = self._fn()
        if "{number}" in command:
            kw["number"] = self.rng.choice((0, 1, 2))
        if "{job}" in command:
            job_id, bogus = self._any_job(model)
            kw.update(job=job_id, bogus=bogus)
        if command == "create function {fn}" and self.rng.random() < 0.8:
            kw["eol"] = "\r\n"  # gearmand drops a name's last character after a bare LF
        op = self._op("admin", **kw)
        if command == "status" and self.rng.random() < 0.4 and \
                any(c == "prioritystatus" for c, _ in self.admin):
            self.pending.append(self._op("admin", actor=ADMIN, text="prioritystatus"))
        return op

    def _disconnect(self, now: _Now) -> Op:
        model = now.model
        up = sorted(model.connected)
        actor = self.rng.choice(up) if up else self.rng.choice(CLIENTS)
        return self._op("disconnect", actor=actor)

    def _reconnect(self, now: _Now) -> Op:
        return self._op("reconnect", actor=self.rng.choice(now.down))

    def _pause(self, now: _Now) -> Op:
        return self._op("pause", seconds=self.rng.choice((0.05, 0.05, 0.3)))
