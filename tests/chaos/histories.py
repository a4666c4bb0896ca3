"""Hand-written chaos histories: a tiny builder that writes the events a run would.

Each call appends one event at the next tick of a fake clock (or at ``t=``), with
the fields the runner, clients and workers write, so the checker can be fed any
story without a server.
"""

from __future__ import annotations

from typing import Any

from gearcheck.chaos.history import Event
from gearcheck.chaos.plan import data_digest

FN = b"fn".hex()


class History:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.t = 0.0
        self.payloads: dict[str, bytes] = {}

    def _add(self, type_: str, t: float | None = None, **fields: Any) -> History:
        self.t = t if t is not None else self.t + 0.1
        self.events.append({"t": round(self.t, 6), "type": type_, **fields})
        return self

    def submit(self, job: str, *, uniq: bytes = b"", bg: bool = True, prio: str = "normal",
               fn: str = FN, client: int = 0, epoch: int = 0, inc: int = 1,
               wall: float = 1_000_000.0, t: float | None = None) -> History:
        payload = b"gc:" + job.encode() + b";payload"
        self.payloads[job] = payload
        return self._add("submit", t, client=client, conn=1, inc=inc, job=job, fn=fn,
                         uniq=uniq.hex(), size=len(payload), prio=prio, bg=bg, epoch=epoch,
                         dd=data_digest(payload), wall=wall)

    def ack(self, job: str, handle: str, *, inc: int = 1, client: int = 0,
            t: float | None = None) -> History:
        return self._add("ack", t, client=client, job=job, handle=handle.encode().hex(), inc=inc)

    def refused(self, job: str) -> History:
        return self._add("refused", None, client=0, job=job, code="QUEUE_ERROR", text="full")

    def unknown(self, job: str) -> History:
        return self._add("unknown", None, client=0, job=job, why="connection lost")

    def orphaned(self, job: str) -> History:
        return self._add("orphaned", None, client=0, job=job, why="client gone")

    def cancel(self, job: str, handle: str) -> History:
        return self._add("cancel", None, client=0, job=job, handle=handle.encode().hex(), ok=True)

    def run(self, job: str | None, handle: str, *, worker: str = "w1", inc: int = 1,
            fn: str = FN, uniq: bytes = b"", payload: bytes | None = None, confirm: bool = True,
            complete: bool = True, t: float | None = None) -> History:
        data = payload if payload is not None else self.payloads.get(job or "", b"")
        self._add("grab", t, worker=worker, inc=inc, handle=handle.encode().hex(), fn=fn,
                  uniq=uniq.hex(), job=job, dd=data_digest(data), size=len(data))
        if complete:
            self._add("complete", None, worker=worker, inc=inc, handle=handle.encode().hex(),
                      job=job)
        if confirm and complete:
            self._add("confirmed", None, worker=worker, inc=inc, handle=handle.encode().hex(),
                      job=job)
        return self

    def result(self, job: str | None, handle: str, got: str, *, client: int = 0,
               kind: str = "WORK_COMPLETE") -> History:
        return self._add("result", None, client=client, job=job,
                         handle=handle.encode().hex(), kind=kind, got=got)

    def server(self, state: str, inc: int, detail: str = "") -> History:
        return self._add("server", None, inc=inc, state=state, how="test", detail=detail)
