"""Reply faults for testing a load generator's invariants: one reply type, one fault.

Strategy: a ``Mutation`` for ``MutantProxy`` (so the proxy's framing and
byte-transparency are reused) that picks every ``every``-th server-to-client
packet of one type, counted across all connections, and drops it, sends it
twice, or holds it back behind the next packet on the same connection
(reorder). ``FaultLog`` records what was really done, so a test can demand
exactly that count from the report: a held packet whose connection never
carries another one is ``stranded`` (it never arrives: a drop after all), and
``swapped_with`` names the type each reordered packet ended up behind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..protocol import Event, Packet, PacketType
from .mutations import Mutation, Out

ACTIONS = ("drop", "duplicate", "reorder")


@dataclass
class FaultLog:
    seen: int = 0  # packets of the chosen type that passed the proxy
    applied: int = 0  # how many of them the fault hit
    swapped_with: Counter[str] = field(default_factory=Counter)
    holding: list[dict[str, Any]] = field(default_factory=list)  # connections holding one

    @property
    def swapped(self) -> int:
        return sum(self.swapped_with.values())

    @property
    def stranded(self) -> int:
        """Reordered packets still held (their connection carried nothing after them)."""
        return len(self.holding)


def reply_fault(ptype: PacketType, action: str, every: int) -> tuple[Mutation, FaultLog]:
    """A mutation that applies ``action`` to every ``every``-th ``ptype`` reply."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    log = FaultLog()
    held_on = log.holding

    def response(event: Event, state: dict[str, Any]) -> Out:
        held = state.pop("held", None)
        if held is not None:
            for i, holder in enumerate(held_on):
                if holder is state:
                    del held_on[i]
                    break
            log.swapped_with[event.name if isinstance(event, Packet) else "admin line"] += 1
        out: Out = None
        if isinstance(event, Packet) and event.type == ptype:
            log.seen += 1
            if log.seen % every == 0:
                log.applied += 1
                if action == "drop":
                    out = []
                elif action == "duplicate":
                    out = [event, event]
                else:
                    state["held"] = event
                    held_on.append(state)
                    out = []
        if held is not None:
            return [event, held] if out is None else [*out, held]
        return out

    mutation = Mutation(f"{action}-{ptype.name}-every-{every}",
                        f"{action} every {every}th {ptype.name}", response=response)
    return mutation, log
