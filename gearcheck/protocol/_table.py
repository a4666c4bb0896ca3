"""The packet table: every Gearman binary packet type, declared as data.

Strategy: one frozen ``PacketSpec`` per type number, holding the type's name,
the names of its arguments in wire order, which peers may send it and the magic
it normally travels with. Everything else in gearcheck (the encoder, the
decoder, the scapy layer, the reference server, the scenario engine) reads this
table; nothing else spells out argument lists.

Argument splitting follows gearmand (libgearman/command.cc): a type with N
arguments carries N-1 NUL-terminated fields and a last field that runs to the
end of the payload, taken by size, so it may contain NULs. A type with no
arguments ignores any payload it is sent with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, Flag, IntEnum, auto

HEADER_SIZE = 12


class Magic(bytes, Enum):
    """The four bytes that open every binary packet."""

    REQ = b"\0REQ"  # towards the server
    RES = b"\0RES"  # from the server


class Role(Flag):
    """Which peer may send a packet type."""

    CLIENT = auto()
    WORKER = auto()
    SERVER = auto()
    ANY_PEER = CLIENT | WORKER


class PacketType(IntEnum):
    CAN_DO = 1
    CANT_DO = 2
    RESET_ABILITIES = 3
    PRE_SLEEP = 4
    UNUSED = 5
    NOOP = 6
    SUBMIT_JOB = 7
    JOB_CREATED = 8
    GRAB_JOB = 9
    NO_JOB = 10
    JOB_ASSIGN = 11
    WORK_STATUS = 12
    WORK_COMPLETE = 13
    WORK_FAIL = 14
    GET_STATUS = 15
    ECHO_REQ = 16
    ECHO_RES = 17
    SUBMIT_JOB_BG = 18
    ERROR = 19
    STATUS_RES = 20
    SUBMIT_JOB_HIGH = 21
    SET_CLIENT_ID = 22
    CAN_DO_TIMEOUT = 23
    ALL_YOURS = 24
    WORK_EXCEPTION = 25
    OPTION_REQ = 26
    OPTION_RES = 27
    WORK_DATA = 28
    WORK_WARNING = 29
    GRAB_JOB_UNIQ = 30
    JOB_ASSIGN_UNIQ = 31
    SUBMIT_JOB_HIGH_BG = 32
    SUBMIT_JOB_LOW = 33
    SUBMIT_JOB_LOW_BG = 34
    SUBMIT_JOB_SCHED = 35
    SUBMIT_JOB_EPOCH = 36
    SUBMIT_REDUCE_JOB = 37
    SUBMIT_REDUCE_JOB_BACKGROUND = 38
    GRAB_JOB_ALL = 39
    JOB_ASSIGN_ALL = 40
    GET_STATUS_UNIQUE = 41
    STATUS_RES_UNIQUE = 42


MAX_PACKET_TYPE = max(PacketType)


@dataclass(frozen=True, slots=True)
class PacketSpec:
    type: PacketType
    args: tuple[str, ...]
    senders: Role
    magic: Magic
    # The server answers this type when a peer sends it (False for the
    # response types and the placeholders gearmand rejects).
    accepted_by_server: bool = True

    @property
    def name(self) -> str:
        return self.type.name

    @property
    def arity(self) -> int:
        return len(self.args)


_SUBMIT = ("function", "unique", "data")
_WORK = ("handle", "data")
_C, _W, _S, _P = Role.CLIENT, Role.WORKER, Role.SERVER, Role.ANY_PEER
_REQ, _RES = Magic.REQ, Magic.RES
_T = PacketType

SPECS: dict[PacketType, PacketSpec] = {
    spec.type: spec
    for spec in (
        PacketSpec(_T.CAN_DO, ("function",), _W, _REQ),
        PacketSpec(_T.CANT_DO, ("function",), _W, _REQ),
        PacketSpec(_T.RESET_ABILITIES, (), _W, _REQ),
        PacketSpec(_T.PRE_SLEEP, (), _W, _REQ),
        PacketSpec(_T.UNUSED, (), Role(0), _REQ, accepted_by_server=False),
        PacketSpec(_T.NOOP, (), _S, _RES, accepted_by_server=False),
        PacketSpec(_T.SUBMIT_JOB, _SUBMIT, _C, _REQ),
        PacketSpec(_T.JOB_CREATED, ("handle",), _S, _RES, accepted_by_server=False),
        PacketSpec(_T.GRAB_JOB, (), _W, _REQ),
        PacketSpec(_T.NO_JOB, (), _S, _RES, accepted_by_server=False),
        PacketSpec(_T.JOB_ASSIGN, ("handle", "function", "data"), _S, _RES,
                   accepted_by_server=False),
        PacketSpec(_T.WORK_STATUS, ("handle", "numerator", "denominator"), _W | _S, _REQ),
        PacketSpec(_T.WORK_COMPLETE, _WORK, _W | _S, _REQ),
        PacketSpec(_T.WORK_FAIL, ("handle",), _W | _S, _REQ),
        PacketSpec(_T.GET_STATUS, ("handle",), _C, _REQ),
        PacketSpec(_T.ECHO_REQ, ("data",), _P, _REQ),
        PacketSpec(_T.ECHO_RES, ("data",), _S, _RES, accepted_by_server=False),
        PacketSpec(_T.SUBMIT_JOB_BG, _SUBMIT, _C, _REQ),
        PacketSpec(_T.ERROR, ("code", "text"), _S, _RES, accepted_by_server=False),
        PacketSpec(_T.STATUS_RES, ("handle", "known", "running", "numerator", "denominator"),
                   _S, _RES, accepted_by_server=False),
        PacketSpec(_T.SUBMIT_JOB_HIGH, _SUBMIT, _C, _REQ),
        PacketSpec(_T.SET_CLIENT_ID, ("client_id",), _P, _REQ),
        PacketSpec(_T.CAN_DO_TIMEOUT, ("function", "timeout"), _W, _REQ),
        PacketSpec(_T.ALL_YOURS, (), _W, _REQ, accepted_by_server=False),
        PacketSpec(_T.WORK_EXCEPTION, _WORK, _W | _S, _REQ),
        PacketSpec(_T.OPTION_REQ, ("option",), _P, _REQ),
        PacketSpec(_T.OPTION_RES, ("option",), _S, _RES, accepted_by_server=False),
        PacketSpec(_T.WORK_DATA, _WORK, _W | _S, _REQ),
        PacketSpec(_T.WORK_WARNING, _WORK, _W | _S, _REQ),
        PacketSpec(_T.GRAB_JOB_UNIQ, (), _W, _REQ),
        PacketSpec(_T.JOB_ASSIGN_UNIQ, ("handle", "function", "unique", "data"), _S, _RES,
                   accepted_by_server=False),
        PacketSpec(_T.SUBMIT_JOB_HIGH_BG, _SUBMIT, _C, _REQ),
        PacketSpec(_T.SUBMIT_JOB_LOW, _SUBMIT, _C, _REQ),
        PacketSpec(_T.SUBMIT_JOB_LOW_BG, _SUBMIT, _C, _REQ),
        PacketSpec(_T.SUBMIT_JOB_SCHED,
                   ("function", "unique", "minute", "hour", "day_of_month", "month",
                    "day_of_week", "data"), _C, _REQ, accepted_by_server=False),
        PacketSpec(_T.SUBMIT_JOB_EPOCH, ("function", "unique", "epoch", "data"), _C, _REQ),
        # gearmand's (libgearman's) layout, with the empty AGGREGATE field the
        # PROTOCOL text leaves out.
        PacketSpec(_T.SUBMIT_REDUCE_JOB, ("function", "unique", "reducer", "aggregate", "data"),
                   _C, _REQ),
        PacketSpec(_T.SUBMIT_REDUCE_JOB_BACKGROUND,
                   ("function", "unique", "reducer", "aggregate", "data"), _C, _REQ),
        PacketSpec(_T.GRAB_JOB_ALL, (), _W, _REQ),
        PacketSpec(_T.JOB_ASSIGN_ALL, ("handle", "function", "unique", "reducer", "data"),
                   _S, _RES, accepted_by_server=False),
        PacketSpec(_T.GET_STATUS_UNIQUE, ("unique",), _C, _REQ),
        PacketSpec(_T.STATUS_RES_UNIQUE,
                   ("unique", "known", "running", "numerator", "denominator", "client_count"),
                   _S, _RES, accepted_by_server=False),
    )
}

assert sorted(SPECS) == list(PacketType), "every packet type needs a spec"

# Groupings the server, the engine and the load users all need.
SUBMIT_TYPES: frozenset[PacketType] = frozenset(
    t for t in PacketType if t.name.startswith("SUBMIT_")
)
BACKGROUND_SUBMIT_TYPES: frozenset[PacketType] = frozenset(
    {_T.SUBMIT_JOB_BG, _T.SUBMIT_JOB_HIGH_BG, _T.SUBMIT_JOB_LOW_BG, _T.SUBMIT_JOB_EPOCH,
     _T.SUBMIT_REDUCE_JOB_BACKGROUND}
)
WORK_RESULT_TYPES: frozenset[PacketType] = frozenset(
    {_T.WORK_STATUS, _T.WORK_COMPLETE, _T.WORK_FAIL, _T.WORK_EXCEPTION, _T.WORK_DATA,
     _T.WORK_WARNING}
)
TERMINAL_WORK_TYPES: frozenset[PacketType] = frozenset(
    {_T.WORK_COMPLETE, _T.WORK_FAIL, _T.WORK_EXCEPTION}
)
GRAB_TYPES: frozenset[PacketType] = frozenset({_T.GRAB_JOB, _T.GRAB_JOB_UNIQ, _T.GRAB_JOB_ALL})


class Priority(IntEnum):
    HIGH = 0
    NORMAL = 1
    LOW = 2


# (priority, background) of each plain submit type, and the inverse.
SUBMIT_MODES: dict[PacketType, tuple[Priority, bool]] = {
    _T.SUBMIT_JOB: (Priority.NORMAL, False),
    _T.SUBMIT_JOB_BG: (Priority.NORMAL, True),
    _T.SUBMIT_JOB_HIGH: (Priority.HIGH, False),
    _T.SUBMIT_JOB_HIGH_BG: (Priority.HIGH, True),
    _T.SUBMIT_JOB_LOW: (Priority.LOW, False),
    _T.SUBMIT_JOB_LOW_BG: (Priority.LOW, True),
    _T.SUBMIT_JOB_EPOCH: (Priority.NORMAL, True),
    _T.SUBMIT_REDUCE_JOB: (Priority.NORMAL, False),
    _T.SUBMIT_REDUCE_JOB_BACKGROUND: (Priority.NORMAL, True),
}


def submit_type(priority: Priority, background: bool) -> PacketType:
    """The plain SUBMIT_JOB* type for a priority and a foreground/background choice."""
    for ptype in (_T.SUBMIT_JOB, _T.SUBMIT_JOB_BG, _T.SUBMIT_JOB_HIGH, _T.SUBMIT_JOB_HIGH_BG,
                  _T.SUBMIT_JOB_LOW, _T.SUBMIT_JOB_LOW_BG):
        if SUBMIT_MODES[ptype] == (priority, background):
            return ptype
    raise AssertionError("unreachable")


def spec_for(ptype: int | str | PacketType) -> PacketSpec:
    """Look a spec up by number, name (any case) or PacketType."""
    if isinstance(ptype, str):
        try:
            return SPECS[PacketType[ptype.upper()]]
        except KeyError:
            raise KeyError(f"unknown packet type name {ptype!r}") from None
    try:
        return SPECS[PacketType(ptype)]
    except ValueError:
        raise KeyError(f"unknown packet type number {ptype}") from None
