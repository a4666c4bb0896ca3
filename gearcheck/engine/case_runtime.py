"""What one running case owns: its actors, variables, deadlines and captures.

Strategy: a ``CaseRuntime`` is plain state plus the few operations every step
executor shares, and nothing that judges. It opens and looks up the case's
actors (each bound to the main server or to one of the case's own servers),
reads the next arrival of an actor (recording it in the open journals, so an
``alternatives`` branch that fails can give its arrivals back), turns a
requested timeout into a wait window (deadline, and the hard deadline after
the grace period that separates LATE from TIMEOUT), and commits the captures
of a match to the case's variables.

Which step kinds a case may use is the runtime's ``executors`` table, handed
in by whoever builds it (the interpreter's table for a conformance case, a
narrower one with ``accept``/``assign`` for a mirrored case, engine.mirrored).
``sent_magic``/``expected_magic`` and ``unsolicited`` are what a mirrored
runtime changes. Every connection it opens reports its traffic to ``touched``
(engine.touched): the functions and jobs the clean-up after the case works from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..protocol import Magic, Packet
from ..wire import CONNECT_DEADLINE_S, Address, WireError
from .actors import Actor, Arrival, Transcript
from .matchers import Captures
from .outcome import HarnessError
from .servers import CaseServers
from .timing import Timing
from .touched import Touched
from .values import ScenarioError, Variables

Executor = Callable[["CaseRuntime", Any], None]
"""Runs one step kind: ``executor(runtime, step_body)``; raises StepFailure/HarnessError."""


class CaseRuntime:
    """What one running case owns."""

    sent_magic = Magic.REQ
    expected_magic = "RES"

    def __init__(self, *, address: Address, timing: Timing, variables: Variables,
                 executors: Mapping[str, Executor] | None = None,
                 case_timeout: float | None = None, noise: list[str] | None = None,
                 servers: CaseServers | None = None,
                 actor_servers: dict[str, str] | None = None) -> None:
        self.address = address
        self.servers = servers
        self.actor_servers = dict(actor_servers or {})
        self.timing = timing
        self.variables = variables
        self.case_timeout = case_timeout
        self.noise = set(noise or [])
        self.transcript = Transcript()
        self.actors: dict[str, Actor] = {}
        self.non_strict: list[str] = []
        self.journals: list[list[tuple[Actor, Arrival]]] = []
        self.executors: dict[str, Executor] = dict(executors or {})
        self.touched = Touched()  # what the case's connections did to each server

    def unsolicited(self, actor: Actor, item: Packet) -> bool:
        """True when ``item``, which no step expected, was handled and is to be skipped."""
        return False

    # -- actors ---------------------------------------------------------------
    def address_of(self, name: str) -> Address:
        """The address of the server the actor ``name`` is bound to (main by default)."""
        server = self.actor_servers.get(name)
        if server is None:
            return self.address
        if self.servers is None or server not in self.servers.addresses:
            raise ScenarioError(f"actor {name!r} is bound to server {server!r}, which this "
                                f"run did not provide")
        return self.servers.addresses[server]

    def connect(self, name: str) -> Actor:
        old = self.actors.get(name)
        if old is not None and not old.conn.closed:
            raise ScenarioError(f"actor {name!r} is already connected")
        address = self.address_of(name)
        try:
            actor = Actor.open(name, address, self.transcript,
                               connect_timeout=max(self.timing.deadline(self.case_timeout),
                                                   CONNECT_DEADLINE_S),
                               tap=self.touched.tap(str(address)))
        except (OSError, WireError) as exc:
            raise HarnessError(f"cannot open connection {name!r}: {exc}") from None
        self.actors[name] = actor
        return actor

    def actor(self, name: str) -> Actor:
        actor = self.actors.get(name)
        if actor is None:
            raise ScenarioError(f"actor {name!r} is used before it is connected")
        if actor.conn.closed:
            raise ScenarioError(f"actor {name!r} is used after the case closed it")
        return actor

    def read(self, actor: Actor, until: float) -> Arrival | None:
        arrival = actor.next_event(until)
        if arrival is not None and self.journals:
            self.journals[-1].append((actor, arrival))
        return arrival

    def close_all(self) -> None:
        for actor in self.actors.values():
            actor.close()

    # -- deadlines ------------------------------------------------------------
    def window(self, requested: float | None) -> tuple[float, float, float]:
        """(deadline, hard deadline, deadline seconds) for a wait starting now."""
        seconds = self.timing.deadline(requested if requested is not None else self.case_timeout)
        now = time.monotonic()
        deadline = now + seconds
        return deadline, deadline + self.timing.grace(seconds), seconds

    def commit(self, captures: Captures) -> None:
        for name, value in captures.items():
            self.variables.set(name, value)
