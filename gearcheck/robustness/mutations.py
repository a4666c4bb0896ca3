"""The catalogue of mutant servers: each mutation is exactly one protocol defect.

Strategy: a ``Mutation`` is a pair of small pure functions over decoded
events, one for what the server sends (``response``) and optionally one for
what clients send (``request``), with a per-connection ``state`` dict for the
few defects that need memory (reordering). A function returns ``None`` to
leave an event untouched (its original bytes are forwarded verbatim), or a
list of what to send instead: ``Packet`` objects, raw ``bytes``, or ``CLOSE``
to hang up. Nothing here does I/O; the proxy applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import AdminLine, Event, Magic, Packet, PacketType

CLOSE = object()
Out = list[Any] | None
Rewrite = Callable[[Event, dict[str, Any]], Out]
T = PacketType


@dataclass(frozen=True)
class Mutation:
    name: str
    defect: str
    response: Rewrite | None = None
    request: Rewrite | None = None


def _on(types: set[PacketType] | PacketType, fn: Callable[[Packet], Out]) -> Rewrite:
    wanted = {types} if isinstance(types, PacketType) else types

    def rewrite(event: Event, state: dict[str, Any]) -> Out:
        if isinstance(event, Packet) and event.type in wanted:
            return fn(event)
        return None
    return rewrite


def _drop(types: set[PacketType] | PacketType) -> Rewrite:
    return _on(types, lambda p: [])


def _with(p: Packet, **changes: bytes) -> Packet:
    args = p.named_args()
    args.update(changes)
    return Packet(p.magic, p.type, tuple(args[name] for name in p.spec.args), p.extra)


def _alter(data: bytes) -> bytes:
    return bytes([data[0] ^ 0x20]) + data[1:] if data else b"?"


_PRIORITY_FLAT = {T.SUBMIT_JOB_HIGH: T.SUBMIT_JOB, T.SUBMIT_JOB_LOW: T.SUBMIT_JOB,
                  T.SUBMIT_JOB_HIGH_BG: T.SUBMIT_JOB_BG, T.SUBMIT_JOB_LOW_BG: T.SUBMIT_JOB_BG}
_SUBMITS_WITH_UNIQUE = {t for t in PacketType if t.name.startswith("SUBMIT_")
                        and "unique" in Packet(Magic.REQ, t, ()).spec.args}
_ASSIGNS = {T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL}


def _status_swapped(p: Packet) -> Out:
    a = p.named_args()
    return [_with(p, known=a["running"], running=a["known"], numerator=a["denominator"],
                  denominator=a["numerator"])]


def _work_data_after_complete(event: Event, state: dict[str, Any]) -> Out:
    if not isinstance(event, Packet):
        return None
    held: dict[bytes, list[Packet]] = state.setdefault("held", {})
    if event.type == T.WORK_DATA:
        held.setdefault(event.arg("handle"), []).append(event)
        return []
    if event.type in (T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_EXCEPTION):
        return [event, *held.pop(event.arg("handle"), [])]
    return None


def _status_total_inflated(event: Event, state: dict[str, Any]) -> Out:
    if isinstance(event, AdminLine) and event.text.count(b"\t") == 3:
        name, total, rest = event.text.split(b"\t", 2)
        if total.isdigit():
            return [name + b"\t" + str(int(total) + 1).encode() + b"\t" + rest + b"\n"]
    return None


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("echo-altered", "ECHO_RES carries data other than what was sent",
             _on(T.ECHO_RES, lambda p: [_with(p, data=_alter(p.arg("data")))])),
    Mutation("noop-dropped", "NOOP is never delivered to sleeping workers", _drop(T.NOOP)),
    Mutation("priority-flattened", "HIGH and LOW submissions are treated as NORMAL",
             request=_on(set(_PRIORITY_FLAT),
                         lambda p: [Packet(p.magic, _PRIORITY_FLAT[p.type], p.args)])),
    Mutation("status-swapped", "STATUS_RES fields swapped (known<->running, num<->den)",
             _on(T.STATUS_RES, _status_swapped)),
    Mutation("work-data-dropped", "WORK_DATA never reaches the client", _drop(T.WORK_DATA)),
    Mutation("handle-rewritten", "JOB_CREATED carries a handle the server does not use",
             _on(T.JOB_CREATED, lambda p: [_with(p, handle=b"H:mutant:" + p.arg("handle"))])),
    Mutation("unique-ignored", "unique IDs are ignored (every submission is its own job)",
             request=_on(_SUBMITS_WITH_UNIQUE, lambda p: [_with(p, unique=b"")])),
    Mutation("option-res-dropped", "OPTION_RES is never sent", _drop(T.OPTION_RES)),
    Mutation("error-dropped", "ERROR packets are never sent", _drop(T.ERROR)),
    Mutation("no-job-dropped", "NO_JOB is never sent (GRAB_JOB on an empty queue hangs)",
             _drop(T.NO_JOB)),
    Mutation("work-complete-truncated", "WORK_COMPLETE loses the last byte of its data",
             _on(T.WORK_COMPLETE, lambda p: [_with(p, data=p.arg("data")[:-1])])),
    Mutation("job-assign-truncated", "JOB_ASSIGN* loses the last byte of the workload",
             _on(_ASSIGNS, lambda p: [_with(p, data=p.arg("data")[:-1])])),
    # ours
    Mutation("work-fail-as-complete", "WORK_FAIL is reported as an empty WORK_COMPLETE",
             _on(T.WORK_FAIL, lambda p: [Packet.build(T.WORK_COMPLETE, p.arg("handle"), b"",
                                                      magic=Magic.RES)])),
    Mutation("work-exception-dropped", "WORK_EXCEPTION never reaches the client",
             _drop(T.WORK_EXCEPTION)),
    Mutation("work-status-dropped", "WORK_STATUS never reaches the client",
             _drop(T.WORK_STATUS)),
    Mutation("warning-as-data", "WORK_WARNING is delivered as WORK_DATA",
             _on(T.WORK_WARNING, lambda p: [Packet(p.magic, T.WORK_DATA, p.args)])),
    Mutation("job-created-dropped", "JOB_CREATED is never sent", _drop(T.JOB_CREATED)),
    Mutation("status-total-inflated", "admin status reports one job too many per function",
             _status_total_inflated),
    Mutation("assign-unique-emptied", "JOB_ASSIGN_UNIQ/ALL carry an empty unique ID",
             _on({T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL}, lambda p: [_with(p, unique=b"")])),
    Mutation("close-after-error", "the connection is closed after every ERROR",
             _on(T.ERROR, lambda p: [p, CLOSE])),
    Mutation("assign-function-renamed", "JOB_ASSIGN* names a different function",
             _on(_ASSIGNS, lambda p: [_with(p, function=p.arg("function") + b"-x")])),
    Mutation("work-data-after-complete", "WORK_DATA arrives after the job's final packet",
             _work_data_after_complete),
)

BY_NAME = {m.name: m for m in MUTATIONS}
