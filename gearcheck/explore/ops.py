"""The operations a sequence is made of: what each one sends, and its JSON form.

Strategy: an ``Op`` is plain data in symbols (functions ``f1``, uniques
``u1``, actors ``c1``/``w1``/``adm``), never in wire names or handles, so one
sequence runs unchanged on every server and in every namespace. A job is named
by the id of the submission that created it (``job``); each server's lane
resolves that to the handle it gave, and an operation whose job no longer
exists in a shrunk sequence is skipped rather than guessed. Ids are assigned
once, at generation, and survive shrinking.

``sends`` turns an operation into what goes on the wire (packets from the
packet table, or an admin line), given the run's names and the lane's handles;
the codec in gearcheck.protocol does the encoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..protocol import Packet, PacketType
from .names import Names

T = PacketType

# kinds that send one binary packet on the actor's connection
PACKET_KINDS = ("submit", "grab", "can_do", "can_do_timeout", "cant_do", "reset_abilities",
                "pre_sleep", "work", "option", "get_status", "get_status_unique", "echo",
                "set_client_id")
CONNECTION_KINDS = ("disconnect", "reconnect")
KINDS = (*PACKET_KINDS, "admin", *CONNECTION_KINDS, "pause")

# admin commands, with {fn} (a function) and {job} (a handle) to fill in
ADMIN_COMMANDS = ("status", "prioritystatus", "workers", "show jobs", "show unique jobs",
                  "cancel job {job}", "create function {fn}", "drop function {fn}",
                  "maxqueue {fn} {number}")


@dataclass(frozen=True)
class Op:
    id: int
    kind: str
    actor: str = ""
    packet: str = ""      # the packet type a binary operation sends
    fn: str = ""          # f1..f3
    unique: str = ""      # "", "-" (coalesce by data), u1..u3
    data: str = ""        # payload text (work results, submissions, echo)
    job: int = -1         # id of the submission whose job this names (-1: none)
    bogus: bool = False   # name a handle no job has
    epoch: int = 0        # SUBMIT_JOB_EPOCH: seconds from now
    reducer: str = ""     # reduce submissions: the reducer function (r1..)
    text: str = ""        # option name, client id suffix, admin command template
    number: int = 0       # CAN_DO_TIMEOUT ms, maxqueue size, WORK_STATUS numerator
    eol: str = "\n"       # admin line ending
    seconds: float = 0.0  # pause

    def to_dict(self) -> dict[str, Any]:
        defaults = Op(0, "")
        return {k: v for k, v in asdict(self).items()
                if k in ("id", "kind") or v != getattr(defaults, k)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Op:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"operation {d.get('id')}: unknown field(s) {sorted(unknown)}")
        if d.get("kind") not in KINDS:
            raise ValueError(f"operation {d.get('id')}: unknown kind {d.get('kind')!r}")
        return cls(**d)

    @property
    def ptype(self) -> PacketType:
        return PacketType[self.packet]

    @property
    def admin_words(self) -> str:
        """The admin command without its arguments: 'cancel job', 'status'."""
        return " ".join(w for w in self.text.split() if "{" not in w)

    @property
    def refers_to_job(self) -> bool:
        return self.job >= 0

    def describe(self) -> str:
        """One line for people: 'w1 WORK_COMPLETE job#4 "r"'."""
        bits = [self.actor] if self.actor else []
        if self.kind == "admin":
            bits.append(repr(self.text.format(fn=self.fn, job=_job_text(self),
                                              number=self.number) + self.eol))
        elif self.kind == "pause":
            bits.append(f"pause {self.seconds:g} s")
        elif self.kind in CONNECTION_KINDS:
            bits.append(self.kind)
        else:
            bits.append(self.packet)
            for label, value in (("fn", self.fn), ("unique", self.unique), ("reducer",
                                 self.reducer), ("text", self.text)):
                if value:
                    bits.append(f"{label}={value}")
            if self.kind == "submit" and not self.unique:
                bits.append("unique=''")
            if self.refers_to_job or self.bogus:
                bits.append(_job_text(self))
            if self.packet == "SUBMIT_JOB_EPOCH":
                bits.append(f"epoch=now{self.epoch:+d}s")
            if self.kind in ("can_do_timeout", "work") and self.number:
                bits.append(f"n={self.number}")
            if self.data:
                bits.append(f"data={self.data!r}")
        return " ".join(bits)

    def trigger(self) -> str:
        """What the operation is, without its arguments: the first part of a signature."""
        if self.kind == "admin":
            return f"admin {self.admin_words}"
        if self.kind == "pause":
            return "pause"
        if self.kind in CONNECTION_KINDS:
            return f"{self.kind} {role_of(self.actor)}"
        return self.packet

    def features(self) -> set[str]:
        """Coarse traits for a finding's context (what kind of sequence it took)."""
        out = {self.trigger()}
        if self.kind == "submit":
            out.add("submit")
            if self.unique:
                out.add("unique" if self.unique != "-" else "unique-by-data")
            if self.packet == "SUBMIT_JOB_EPOCH":
                out.add("epoch-future" if self.epoch > 0 else "epoch-past")
        if self.bogus:
            out.add("bogus-handle")
        if self.kind == "option":
            out.add(f"option {self.text}")
        if self.kind == "admin" and self.admin_words == "create function" and self.eol == "\n":
            out.add("create function ending in a bare LF")
        return out

    def capabilities(self) -> set[str]:
        """The probe capabilities (engine.probe) a server needs for this operation."""
        if self.kind == "admin":
            return {f"admin:{self.admin_words}"}
        if self.kind in PACKET_KINDS:
            return {f"packet:{self.packet}"}
        return set()


def role_of(actor: str) -> str:
    return {"c": "client", "w": "worker", "a": "admin"}.get(actor[:1], actor)


def _job_text(op: Op) -> str:
    return "bogus-handle" if op.bogus else f"job#{op.job}"


Resolve = Callable[[int], bytes | None]
"""The handle this lane's server gave the job of submission ``id`` (None: it gave none)."""


class Unresolved(Exception):
    """The operation names a job this lane does not have: skip it."""


def _handle(op: Op, names: Names, resolve: Resolve) -> bytes:
    if op.bogus:
        return names.bogus_handle()
    handle = resolve(op.job)
    if handle is None:
        raise Unresolved(f"op {op.id} names job#{op.job}, which this run does not have")
    return handle


def sends(op: Op, names: Names, resolve: Resolve, generation: int = 0) -> list[Packet | bytes]:
    """What ``op`` puts on its actor's connection: packets, or one admin line (bytes).

    ``generation`` counts the actor's reconnections (its client id names it)."""
    if op.kind == "admin":
        job = _handle(op, names, resolve) if "{job}" in op.text else b""
        line = op.text.format(fn=names.function(op.fn).decode(), job=job.decode("latin-1"),
                              number=op.number)
        return [line.encode("latin-1") + op.eol.encode()]
    if op.kind not in PACKET_KINDS:
        return []
    t = op.ptype
    fn = names.function(op.fn) if op.fn else b""
    if op.kind == "submit":
        unique = names.unique(op.unique)
        if t == T.SUBMIT_JOB_EPOCH:
            return [Packet.build(t, fn, unique, str(int(time.time()) + op.epoch), op.data)]
        if t in (T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND):
            return [Packet.build(t, fn, unique, names.function(op.reducer), b"", op.data)]
        return [Packet.build(t, fn, unique, op.data)]
    if op.kind in ("can_do", "cant_do"):
        return [Packet.build(t, fn)]
    if op.kind == "can_do_timeout":
        return [Packet.build(t, fn, str(op.number))]
    if op.kind == "work":
        handle = _handle(op, names, resolve)
        if t == T.WORK_STATUS:
            return [Packet.build(t, handle, str(op.number), "4")]
        if t == T.WORK_FAIL:
            return [Packet.build(t, handle)]
        return [Packet.build(t, handle, op.data)]
    if op.kind == "get_status":
        return [Packet.build(t, _handle(op, names, resolve))]
    if op.kind == "get_status_unique":
        return [Packet.build(t, names.unique(op.unique))]
    if op.kind == "option":
        return [Packet.build(t, op.text)]
    if op.kind == "echo":
        return [Packet.build(t, op.data)]
    if op.kind == "set_client_id":
        return [Packet.build(t, names.client_id(op.actor, generation, op.text))]
    return [Packet.build(t)]  # grab, pre_sleep, reset_abilities


def ops_to_json(ops: list[Op]) -> list[dict[str, Any]]:
    return [op.to_dict() for op in ops]


def ops_from_json(items: list[dict[str, Any]]) -> list[Op]:
    return [Op.from_dict(dict(item)) for item in items]
