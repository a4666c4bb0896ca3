"""Hypothesis strategies for hostile input, built from the packet table.

Strategy: everything derives from ``protocol.SPECS``: a packet is a type from
the table and one byte string per named argument, then optionally one defect
(wrong declared size, missing NULs, bad magic, unknown type number, a huge
declared size with a short payload, zero-length fields, a 64 KiB function
name, or any type/magic/body/size combination built by the scapy layer's raw
``Gearman`` form). Byte-level mutations start from *valid exchanges* (the sequences real
clients and workers send) and flip, insert, delete, duplicate or cut bytes.
On top of the bytes, an input chooses how it is delivered: all at once,
dribbled one byte per write, dropped mid-packet (FIN or RST) or repeated over
many connections at once. Large sizes are built by repetition (``b"f" * n``)
so hypothesis never has to generate them byte by byte.

The admin command ``shutdown`` is never generated: stopping a server that
offers it is its documented job, not a defect.
"""

from __future__ import annotations

from hypothesis import strategies as st

from ..protocol import (
    MAX_PACKET_TYPE,
    SPECS,
    SUBMIT_TYPES,
    Magic,
    Packet,
    PacketType,
    encode,
    encode_raw,
)
from .fuzz_exec import FuzzInput

DEFECTS = ("none", "wrong-size", "missing-nul", "bad-magic", "unknown-type", "huge-size",
           "zero-length", "long-function", "res-magic", "trailing-garbage", "scapy")

_ADMIN_WORDS = ("status", "workers", "version", "verbose", "getpid", "maxqueue", "show jobs",
                "show unique jobs", "cancel job", "create function", "drop function",
                "prioritystatus", "show", "cancel", "create", "drop", "")

_FUNCTIONS = st.sampled_from([b"fz", b"fuzz-fn", b"", b"f\x00g", b"\xff\xfe", b"a b"])
_SMALL = st.binary(max_size=48)


@st.composite
def field_value(draw: st.DrawFn, name: str) -> bytes:
    if name == "function":
        return draw(st.one_of(_FUNCTIONS, _SMALL))
    if name in ("numerator", "denominator", "timeout", "epoch", "known", "running"):
        return draw(st.one_of(
            st.integers(-(2**64), 2**64).map(lambda n: str(n).encode()), _SMALL))
    if name == "option":
        return draw(st.one_of(st.sampled_from([b"exceptions", b"", b"bogus"]), _SMALL))
    return draw(_SMALL)


@st.composite
def table_packet(draw: st.DrawFn, types: list[PacketType] | None = None) -> Packet:
    """A packet of any type in the table, arguments from per-name strategies."""
    ptype = draw(st.sampled_from(types or list(PacketType)))
    spec = SPECS[ptype]
    args = tuple(draw(field_value(name)) for name in spec.args)
    magic = spec.magic if draw(st.booleans()) else Magic.REQ
    return Packet(magic, ptype, args)


@st.composite
def defective_packet(draw: st.DrawFn) -> tuple[str, bytes]:
    """(defect name, bytes): one packet from the table with at most one defect."""
    defect = draw(st.sampled_from(DEFECTS))
    pkt = draw(table_packet())
    payload = b"\0".join(pkt.args)
    magic, number = pkt.magic.value, int(pkt.type)
    if defect == "wrong-size":
        delta = draw(st.integers(-16, 16).filter(bool))
        return defect, encode_raw(magic, number, payload, size=max(0, len(payload) + delta))
    if defect == "missing-nul":
        return defect, encode_raw(magic, number, payload.replace(b"\0", b""))
    if defect == "bad-magic":
        bad = draw(st.one_of(st.binary(min_size=4, max_size=4),
                             st.sampled_from([b"\0req", b"\0REX", b"\0RE\0", b"\0\0\0\0"])))
        if bad in (Magic.REQ.value, Magic.RES.value):
            bad = b"\0BAD"
        return defect, encode_raw(b"\0" + bad[1:], number, payload)
    if defect == "unknown-type":
        number = draw(st.one_of(st.just(0), st.integers(MAX_PACKET_TYPE + 1, 2**32 - 1)))
        return defect, encode_raw(magic, number, payload)
    if defect == "huge-size":
        size = draw(st.one_of(st.just(2**32 - 1), st.just(2**32 - 12), st.just(2**31),
                              st.integers(2**20, 2**32 - 1)))
        return defect, encode_raw(magic, number, payload[: draw(st.integers(0, 16))], size=size)
    if defect == "zero-length":
        return defect, encode(Packet(pkt.magic, pkt.type, tuple(b"" for _ in pkt.args)))
    if defect == "long-function":
        ptype = draw(st.sampled_from(sorted(t for t in PacketType
                                            if "function" in SPECS[t].args)))
        n = draw(st.sampled_from([8191, 8192, 9000, 65535, 65536]))
        args = [b"f" * n if a == "function" else b"x" for a in SPECS[ptype].args]
        return defect, encode(Packet(Magic.REQ, ptype, tuple(args)))
    if defect == "res-magic":
        return defect, encode(pkt.with_magic(Magic.RES))
    if defect == "scapy":  # the scapy layer's raw form: any type, magic, body and size
        from ..protocol.scapy_layer import Gearman

        declared = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
        mag = draw(st.sampled_from([None, b"\0RES", b"\0BAD", b"REQ\0"]))
        number = draw(st.one_of(st.just(number), st.integers(0, 2**32 - 1)))
        return defect, bytes(Gearman(type=number, magic=mag, body=payload, size=declared))
    if defect == "trailing-garbage":
        return defect, encode(pkt) + draw(st.binary(min_size=1, max_size=32))
    return defect, encode(pkt)


@st.composite
def admin_line(draw: st.DrawFn) -> bytes:
    word = draw(st.sampled_from(_ADMIN_WORDS)).encode()
    arg = draw(st.one_of(st.just(b""), st.binary(max_size=24).map(
        lambda b: b.replace(b"\n", b"").replace(b"\0", b""))))
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"", b"\r"]))
    if draw(st.integers(0, 19)) == 0:
        return word + b" " + b"x" * draw(st.sampled_from([8191, 8192, 9000, 65536]))
    return word + (b" " + arg if arg else b"") + ending


def valid_exchanges() -> st.SearchStrategy[list[Packet]]:
    """Sequences a real client or worker sends."""
    fn = st.sampled_from(["fz", "fuzz-fn"])
    data = st.binary(max_size=32)
    submit = st.builds(lambda t, f, u, d: [Packet.build(t, f, u, d)],
                       st.sampled_from(sorted(t for t in SUBMIT_TYPES
                                              if SPECS[t].arity == 3)), fn,
                       st.binary(max_size=12), data)
    worker = st.builds(lambda f, g: [Packet.build("CAN_DO", f), Packet.build("SET_CLIENT_ID", "w"),
                                     Packet.build(g), Packet.build("PRE_SLEEP")],
                       fn, st.sampled_from(["GRAB_JOB", "GRAB_JOB_UNIQ", "GRAB_JOB_ALL"]))
    echo = st.builds(lambda d: [Packet.build("ECHO_REQ", d)], data)
    status = st.builds(lambda h: [Packet.build("GET_STATUS", h),
                                  Packet.build("GET_STATUS_UNIQUE", h)],
                       st.sampled_from([b"H:x:1", b"", b"H" * 70]))
    option = st.just([Packet.build("OPTION_REQ", "exceptions")])
    work = st.builds(lambda t, d: [Packet.build(t, "H:nobody:1", d)],
                     st.sampled_from(["WORK_DATA", "WORK_WARNING", "WORK_COMPLETE",
                                      "WORK_EXCEPTION"]), data)
    one = st.one_of(submit, worker, echo, status, option, work)
    return st.lists(one, min_size=1, max_size=4).map(lambda xs: [p for x in xs for p in x])


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    buf = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        if not buf:
            buf += draw(st.binary(min_size=1, max_size=8))
            continue
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "cut"]))
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            buf[i] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("\n"), draw(
                st.integers(0, 255))]))
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del buf[i:i + draw(st.integers(1, 8))]
        elif op == "duplicate":
            buf[i:i] = buf[i:i + draw(st.integers(1, 16))]
        else:
            del buf[i:]
    return bytes(buf)


def _exchange_bytes(packets: list[Packet]) -> bytes:
    return b"".join(encode(p) for p in packets)


# The input families in the order the fuzz loop takes them: one each in turn (packet
# and mutation twice, as they have the most variety), so a short run covers every
# family; hypothesis would otherwise favour the first and last of a sampled list.
FAMILY_TURNS = ("packet", "mutation", "admin", "dribble", "packet", "mutation", "drop", "many")


@st.composite
def fuzz_input(draw: st.DrawFn, family: str) -> FuzzInput:
    """One hostile input of ``family`` (one of ``FAMILY_TURNS``)."""
    if family == "packet":
        parts = draw(st.lists(defective_packet(), min_size=1, max_size=3))
        defects = [d for d, _ in parts if d != "none"] or ["none"]
        payload = b"".join(b for _, b in parts)
        if draw(st.booleans()):
            payload += encode(Packet.build("ECHO_REQ", "after"))
        return FuzzInput(f"packet:{defects[0]}", payload, notes=tuple(defects))
    if family == "admin":
        lines = draw(st.lists(admin_line(), min_size=1, max_size=4))
        return FuzzInput("admin", b"".join(lines))
    if family == "mutation":
        original = _exchange_bytes(draw(valid_exchanges()))
        return FuzzInput("mutation", draw(mutated_bytes(original)))
    if family == "dribble":
        source = draw(st.one_of(valid_exchanges().map(_exchange_bytes),
                                defective_packet().map(lambda p: p[1])))
        return FuzzInput("dribble", source[:512], chunk_size=1)
    if family == "drop":
        whole = _exchange_bytes(draw(valid_exchanges()))
        cut = draw(st.integers(1, max(1, len(whole) - 1)))
        return FuzzInput("drop-mid-packet", whole[:cut], ending=draw(st.sampled_from(ENDINGS_DROP)))
    if family != "many":
        raise ValueError(f"unknown fuzz input family {family!r}")
    count = draw(st.integers(8, 64))
    payload = draw(st.one_of(valid_exchanges().map(_exchange_bytes),
                             defective_packet().map(lambda p: p[1])))
    return FuzzInput("many-connections", payload, connections=count,
                     ending=draw(st.sampled_from(["close", "reset", "drop"])))


ENDINGS_DROP = ("drop", "reset")
