"""What a case's connections did to each server: the functions they named, the jobs they made.

Strategy: every connection of a case gets a ``Tap`` on its observer. A tap
reads the bytes the connection wrote as the server reads them (the codec's
``Decoder``, so a raw, malformed or chunked send counts the same as a built
packet) and the packets it received, and records, per server, every function
name a request carried (``CAN_DO``, ``CAN_DO_TIMEOUT``, ``CANT_DO``, the
function and reducer of every submission, the name in ``create function``,
``drop function`` and ``maxqueue``), which of them got submissions, whether a
submission may be held back by the server (``SUBMIT_JOB_EPOCH`` and
``SUBMIT_JOB_SCHED``: a job due later cannot be grabbed now), the handle of
every ``JOB_CREATED``, and which jobs the case's workers were handed
(``JOB_ASSIGN*``) and sent no result for (``WORK_COMPLETE``, ``_FAIL``,
``_EXCEPTION``): those come back to the queue when the worker goes away. A
send the codec cannot frame ends that connection's reading (the server gives
up on it too). Built packets, the common case, are taken as they are, without
decoding their bytes again.

This is what the clean-up after the case (engine.cleanup) works from: it never
guesses from the scenario's text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..protocol import SUBMIT_TYPES, AdminLine, Decoder, Magic, Packet, PacketType, ProtocolError

_FUNCTION_COMMANDS = {b"create": 2, b"drop": 2, b"maxqueue": 1}  # command -> index of the name
_DEFERRED = (PacketType.SUBMIT_JOB_EPOCH, PacketType.SUBMIT_JOB_SCHED)
_ASSIGNED = (PacketType.JOB_ASSIGN, PacketType.JOB_ASSIGN_UNIQ, PacketType.JOB_ASSIGN_ALL)
_RESULTS = (PacketType.WORK_COMPLETE, PacketType.WORK_FAIL, PacketType.WORK_EXCEPTION)
_MAX_PAYLOAD = 1 << 32  # read what the case sends whatever size it declares


@dataclass
class ServerTouch:
    """What one case asked of one server."""

    functions: set[bytes] = field(default_factory=set)  # every function named
    submitted: set[bytes] = field(default_factory=set)  # functions that got submissions
    deferred: bool = False  # a submission the server may hold until later (epoch, sched)
    handles: list[bytes] = field(default_factory=list)  # JOB_CREATED handles, in order
    assigned: set[bytes] = field(default_factory=set)  # jobs handed to the case's workers
    finished: set[bytes] = field(default_factory=set)  # jobs its workers sent a result for

    @property
    def unfinished(self) -> list[bytes]:
        """Jobs a worker of the case held when it went away (the server requeues them)."""
        return sorted(self.assigned - self.finished)

    def __bool__(self) -> bool:
        return bool(self.functions or self.handles)


class Touched:
    """Per server address (its text): what the case's connections did there."""

    def __init__(self) -> None:
        self.servers: dict[str, ServerTouch] = {}
        self._lock = threading.Lock()

    def tap(self, server: str) -> Tap:
        with self._lock:
            touch = self.servers.setdefault(server, ServerTouch())
        return Tap(touch)


class Tap:
    """One connection's reader of its own traffic (``tap(direction, what, raw)``)."""

    def __init__(self, touch: ServerTouch) -> None:
        self.touch = touch
        self.decoder: Decoder | None = Decoder(max_payload=_MAX_PAYLOAD)

    def __call__(self, direction: str, what: object, raw: bytes) -> None:
        if direction == "send":
            self.sent(what, raw)
        elif direction == "recv" and isinstance(what, Packet) and what.args:
            if what.type is PacketType.JOB_CREATED:
                self.touch.handles.append(what.args[0])
            elif what.type in _ASSIGNED:
                self.touch.assigned.add(what.args[0])

    def sent(self, what: object, raw: bytes) -> None:
        decoder = self.decoder
        if decoder is None:
            return
        if isinstance(what, Packet) and decoder.buffered == 0:
            self.request(what)  # a whole packet, built and encoded here: no need to decode
            return
        try:
            decoder.feed(raw)
            while (event := decoder.next_event()) is not None:
                if isinstance(event, Packet):
                    self.request(event)
                else:
                    self.admin(event)
        except ProtocolError:
            self.decoder = None  # framing is lost here, as it is for the server

    def request(self, packet: Packet) -> None:
        if packet.magic is not Magic.REQ:
            return
        names = packet.spec.args
        touch = self.touch
        for arg in ("function", "reducer"):
            if arg in names and names.index(arg) < len(packet.args):
                touch.functions.add(packet.args[names.index(arg)])
        if packet.type in SUBMIT_TYPES and packet.args:
            touch.submitted.add(packet.args[0])
            if packet.type in _DEFERRED:
                touch.deferred = True
        elif packet.type in _RESULTS and packet.args:
            touch.finished.add(packet.args[0])

    def admin(self, line: AdminLine) -> None:
        words = [w for w in line.text.split(b" ") if w]
        if not words:
            return
        index = _FUNCTION_COMMANDS.get(words[0].lower())
        if index is None or len(words) <= index:
            return
        if index == 2 and words[1].lower() != b"function":
            return
        self.touch.functions.add(words[index])
