"""Mirrored scenarios: the harness in the server's place, a library connecting to it.

Strategy: a ``Listener`` binds 127.0.0.1 port 0 and hands out the sockets the
library opens, in the order it opened them; each becomes an ``Actor`` over the
same ``wire.Connection`` and transcript a conformance actor uses, so the step
executors (send, expect, expect_all, expect_silence, expect_close, close,
sleep, repeat, alternatives) run unchanged. ``MirroredRuntime`` is a
``CaseRuntime`` whose ``connect`` accepts instead of opening, whose sends carry
``\\0RES`` and whose expectations want ``\\0REQ``, with two step kinds of its
own: ``accept`` (the library's next connection, or, when allowed, its report
that it gave up: NON-STRICT), ``assign`` (a job, as JOB_ASSIGN after
GRAB_JOB and as JOB_ASSIGN_UNIQ after GRAB_JOB_UNIQ or GRAB_JOB_ALL) and
``wait_read`` (until the library's process has read every byte sent to it, as
the kernel tells: engine.peer_read), so that what is sent next reaches it in
a read of its own whatever the machine's load.

What is library-specific stays with the caller (gearcheck.interop): the
``answer`` hook handles packets no step expected (the housekeeping a real
server answers), ``gave_up`` says whether the library reported that it gave
up, and the caller drives the library and judges what it reported.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from ..protocol import Magic, Packet, PacketType
from ..results import CaseResult, FailureKind
from ..wire import Address, WireError
from .actors import Actor, Arrival
from .case_runtime import CaseRuntime, Executor
from .loader import Scenario
from .outcome import HarnessError, StepFailure
from .peer_read import PeerReadUnknown, ReadState, wait_until_read
from .runner import case_result, execute
from .schema import OPENING_ONLY_KINDS
from .steps import STEP_EXECUTORS
from .timing import Timing
from .values import ScenarioError, Variables

PEER = "the library"
GRABS = (PacketType.GRAB_JOB, PacketType.GRAB_JOB_UNIQ, PacketType.GRAB_JOB_ALL)
Answer = Callable[[Actor, Packet], bool]


class Listener:
    """A loopback socket the library under test connects to."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_server((host, 0), backlog=16)
        self.address = Address(host, self.sock.getsockname()[1])

    def accept(self, until: float) -> socket.socket | None:
        """The next connection, or None when ``until`` (monotonic) passes first."""
        remaining = until - time.monotonic()
        if remaining <= 0:
            return None
        self.sock.settimeout(remaining)
        try:
            conn, _ = self.sock.accept()
        except (TimeoutError, OSError):
            return None
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mirrored_timing(scenario: Scenario) -> Timing:
    """Deadlines for a library on loopback: the case's timeout, no RTT scaling, no grace."""
    return Timing(rtt_s=0.0, default_timeout_s=scenario.timeout or 5.0, rtt_multiple=0.0,
                  grace_factor=0.0)


class MirroredRuntime(CaseRuntime):
    sent_magic = Magic.RES
    expected_magic = "REQ"

    def __init__(self, scenario: Scenario, listener: Listener, *, answer: Answer | None = None,
                 gave_up: Callable[[], bool] | None = None, run_id: str = "mirror") -> None:
        super().__init__(address=listener.address, timing=mirrored_timing(scenario),
                         variables=Variables(run_id, scenario.id), executors=MIRRORED_EXECUTORS,
                         case_timeout=scenario.timeout, noise=scenario.noise)
        self.listener = listener
        self.answer = answer
        self.gave_up = gave_up or (lambda: False)
        self.last_grab: dict[str, PacketType] = {}

    def connect(self, name: str) -> Actor:
        """Accept the library's next connection as ``name`` (a case's declared actors)."""
        actor = self.accept(name)
        assert actor is not None  # without or_gives_up, accept fails rather than give None
        return actor

    def accept(self, name: str, within: float | None = None,
               or_gives_up: bool = False) -> Actor | None:
        """Accept the library's next connection as ``name`` (None: it gave up instead)."""
        old = self.actors.get(name)
        if old is not None and not old.conn.closed:
            raise ScenarioError(f"actor {name!r} is already connected")
        seconds = self.timing.deadline(within if within is not None else self.case_timeout)
        until = time.monotonic() + seconds
        sock = None
        while sock is None and time.monotonic() < until:
            if or_gives_up and self.gave_up():
                return None
            step_end = min(until, time.monotonic() + 0.1) if or_gives_up else until
            sock = self.listener.accept(step_end)
        if sock is None:
            raise StepFailure(FailureKind.TIMEOUT, f"{PEER} did not open connection {name!r} "
                              f"within {seconds:.1f} s"
                              + (" and did not report that it gave up" if or_gives_up else ""),
                              expected=f"{PEER} connects to {self.listener.address}",
                              actual="no connection")
        actor = Actor.accepted(name, sock, self.transcript, PEER)
        self.actors[name] = actor
        return actor

    def read(self, actor: Actor, until: float) -> Arrival | None:
        arrival = super().read(actor, until)
        if arrival is not None and isinstance(arrival.item, Packet) \
                and arrival.item.type in GRABS:
            self.last_grab[actor.name] = arrival.item.type
        return arrival

    def unsolicited(self, actor: Actor, item: Packet) -> bool:
        return self.answer is not None and self.answer(actor, item)


def step_accept(rt: CaseRuntime, body: Any) -> None:
    assert isinstance(rt, MirroredRuntime)
    spec = body if isinstance(body, dict) else {"name": body}
    name = spec["name"]
    if rt.accept(name, spec.get("within"), bool(spec.get("or_gives_up"))) is None:
        rt.transcript.note(name, f"{PEER} reported that it gave up instead of connecting")
        rt.non_strict.append(f"{PEER} did not open connection {name!r}; it reported that it "
                             f"gave up instead")


def step_assign(rt: CaseRuntime, body: dict[str, Any]) -> None:
    assert isinstance(rt, MirroredRuntime)
    actor = rt.actor(body["on"])
    field = {k: rt.variables.value(body.get(k, "")) for k in ("handle", "function", "unique",
                                                               "data")}
    if rt.last_grab.get(actor.name) is PacketType.GRAB_JOB:
        packet = Packet.build(PacketType.JOB_ASSIGN, field["handle"], field["function"],
                              field["data"])
    else:
        packet = Packet.build(PacketType.JOB_ASSIGN_UNIQ, field["handle"], field["function"],
                              field["unique"], field["data"])
    try:
        actor.send_packets([packet])
    except WireError as exc:
        raise StepFailure(FailureKind.CLOSED, f"{actor.name}: sending {packet.name} failed: "
                          f"{exc}", expected="the connection accepts the bytes",
                          actual=str(exc)) from None


def step_wait_read(rt: CaseRuntime, body: dict[str, Any]) -> None:
    assert isinstance(rt, MirroredRuntime)
    actor = rt.actor(body["on"])
    until, _, seconds = rt.window(body.get("within"))
    try:
        state = wait_until_read(actor.conn.sock, until)
    except PeerReadUnknown as exc:
        raise HarnessError(f"{actor.name}: cannot tell whether {PEER} has read what was "
                           f"sent: {exc}") from None
    if state is ReadState.PENDING:
        raise StepFailure(FailureKind.TIMEOUT, f"{actor.name}: {PEER} did not read the bytes "
                          f"sent to it within {seconds:.2f} s",
                          expected=f"{PEER} reads everything sent to it",
                          actual="bytes still unread in its socket")
    rt.transcript.note(actor.name, f"{PEER} has read everything sent" if state is ReadState.READ
                       else f"{PEER} closed its socket")


MIRRORED_EXECUTORS: dict[str, Executor] = {
    **{kind: run for kind, run in STEP_EXECUTORS.items() if kind not in OPENING_ONLY_KINDS},
    "accept": step_accept, "assign": step_assign, "wait_read": step_wait_read}
"""The step kinds of a mirrored case: those that open nothing, plus accept, assign and
wait_read."""


def play_steps(scenario: Scenario, rt: MirroredRuntime) -> CaseResult:
    """Accept the case's actors and run its steps; the actors stay open for the caller,
    who closes them with ``rt.close_all()`` once the library has finished."""
    started = time.monotonic()
    verdict, fields = execute(scenario, rt)
    return case_result(scenario, rt, verdict, fields, started)
