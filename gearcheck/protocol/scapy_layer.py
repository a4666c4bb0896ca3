"""Gearman as a scapy layer, generated from the packet table.

Strategy: one scapy class per packet type, generated from ``SPECS`` so that no
argument list is written twice. Every class shares the 12-byte header (``magic``,
``type`` named from ``PacketType``, ``size``) and declares its arguments as
fields: the first N-1 are NUL-terminated (``StrNullField``), the last runs to
the end of the declared size, as gearmand splits them. A type without
arguments has one ``extra`` field for payload bytes it was sent with anyway.

``Gearman`` itself is the generic layout (header plus a raw ``body``) and the
entry point: its ``dispatch_hook`` picks the class, from the header's type
number when dissecting bytes and from the ``type`` keyword when building.
It stays generic for what no per-type class can hold: an unknown type number,
a body with fewer NULs than the type needs, or a raw ``body=`` given on
purpose. So, all of these build and dissect::

    Gearman(type="SUBMIT_JOB", function=b"f", unique=b"u", data=b"x")   # GearmanSubmitJob
    Gearman(type="SUBMIT_JOB", body=b"no separators")                   # missing NULs
    Gearman(type=99, body=b"?"), Gearman(type="ECHO_REQ", magic=b"\\0BAD", data=b"")
    Gearman(type="ECHO_REQ", data=b"x", size=1000)                      # lying size
    Gearman(raw_bytes)                                                 # dissects

``size`` and ``magic`` default to ``None``, which means "computed" (the body's
length; the type's usual magic); any value given is sent as is.

Admin text lines are ``GearmanText`` (the line and its line ending); a byte
that is not ``\\0`` at a packet boundary starts one, as in gearmand. Several
packets in one TCP segment dissect as a chain (``Gearman / Gearman / ...``).

What scapy's per-segment dissection cannot do is join a packet split over
several TCP segments: the first segment shows the packet truncated and the
next ones are not at a packet boundary. ``tcp_reassemble`` (used by scapy's
``TCPSession`` and ``StreamSocket``) frames the stream with the codec's
``Decoder`` and hands back only complete packets; ``gearcheck.protocol.capture``
does the same for whole pcap files with directions and timestamps.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from scapy.config import conf
from scapy.fields import (
    IntEnumField,
    IntField,
    StrField,
    StrFixedLenField,
    StrLenField,
    StrNullField,
)
from scapy.layers.inet import TCP
from scapy.packet import Packet as ScapyPacket
from scapy.packet import bind_layers, split_layers

from ._decoder import Decoder
from ._errors import MissingArgumentsError, ProtocolError
from ._packet import Packet, printable
from ._table import HEADER_SIZE, SPECS, Magic, PacketSpec, PacketType

GEARMAN_PORT = 4730
TYPE_NAMES: dict[int, str] = {int(t): t.name for t in PacketType}

_HEADER = struct.Struct("!4sII")
# Keywords scapy's Packet.__init__ takes besides field values.
_PACKET_KEYWORDS = {"post_transform", "_internal", "_underlayer", "_parent",
                    "stop_dissection_after"}
_SUMMARY_WIDTH = 40

# Which reply types answer a request (for scapy's sr/sr1 over a StreamSocket).
_T = PacketType
_REPLIES: dict[PacketType, frozenset[PacketType]] = {
    _T.ECHO_REQ: frozenset({_T.ECHO_RES}),
    _T.GET_STATUS: frozenset({_T.STATUS_RES}),
    _T.GET_STATUS_UNIQUE: frozenset({_T.STATUS_RES_UNIQUE}),
    _T.OPTION_REQ: frozenset({_T.OPTION_RES, _T.ERROR}),
    _T.GRAB_JOB: frozenset({_T.JOB_ASSIGN, _T.NO_JOB}),
    _T.GRAB_JOB_UNIQ: frozenset({_T.JOB_ASSIGN_UNIQ, _T.NO_JOB}),
    _T.GRAB_JOB_ALL: frozenset({_T.JOB_ASSIGN_ALL, _T.NO_JOB}),
    _T.PRE_SLEEP: frozenset({_T.NOOP}),
    **{t: frozenset({_T.JOB_CREATED, _T.ERROR}) for t in PacketType
       if t.name.startswith("SUBMIT_")},
}


def _arg_bytes(value: Any) -> Any:
    """Arguments may be given as bytes, str or int (decimal text), as in Packet.build."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode("ascii")
    return value


class _MagicField(StrFixedLenField):
    """The 4-byte magic; ``None`` means the usual magic of the packet's type."""

    def __init__(self, name: str, default: bytes | None) -> None:
        super().__init__(name, default, length=4)

    def i2m(self, pkt: ScapyPacket | None, x: Any) -> bytes:
        if x is None:
            try:
                x = SPECS[PacketType(pkt.type)].magic.value if pkt is not None else b""
            except ValueError:
                x = Magic.REQ.value
        return super().i2m(pkt, x)


class _ArgField(StrNullField):
    """A NUL-terminated argument (every argument but the last)."""

    def any2i(self, pkt: ScapyPacket | None, x: Any) -> Any:
        return super().any2i(pkt, _arg_bytes(x))


class _LastArgField(StrLenField):
    """The last argument: whatever the declared size leaves after the others."""

    def __init__(self, name: str, before: tuple[str, ...]) -> None:
        super().__init__(name, b"", length_from=lambda pkt: _rest_of_size(pkt, before))

    def any2i(self, pkt: ScapyPacket | None, x: Any) -> Any:
        return super().any2i(pkt, _arg_bytes(x))


def _rest_of_size(pkt: ScapyPacket, before: tuple[str, ...]) -> int:
    used = sum(len(pkt.getfieldval(name)) + 1 for name in before)
    return max(0, (pkt.size or 0) - used)


class _LineField(StrField):
    """An admin line's text, up to (not including) its line ending."""

    def getfield(self, pkt: ScapyPacket, s: bytes) -> tuple[bytes, bytes]:
        nl = s.find(b"\n")
        if nl < 0:
            return b"", s
        end = nl - 1 if nl > 0 and s[nl - 1] == 0x0D else nl
        return s[end:], s[:end]


class _LineEndField(StrField):
    """``\\r\\n``, ``\\n``, or empty for a line cut off by the end of the data."""

    def getfield(self, pkt: ScapyPacket, s: bytes) -> tuple[bytes, bytes]:
        for eol in (b"\r\n", b"\n"):
            if s.startswith(eol):
                return s[len(eol):], eol
        return s, b""


def _header(ptype: int, magic: bytes | None) -> list[Any]:
    return [
        _MagicField("magic", magic),
        IntEnumField("type", ptype, TYPE_NAMES),
        IntField("size", None),
    ]


def _resolve_type(value: Any) -> PacketType | None:
    """A ``type=`` keyword as a PacketType, or None when it names no known type."""
    if isinstance(value, str):
        return PacketType.__members__.get(value.upper())
    try:
        return PacketType(int(value))
    except (TypeError, ValueError):
        return None


class Gearman(ScapyPacket):
    """A Gearman binary packet; dispatches to the class of its type (see module doc).

    Instances of ``Gearman`` itself hold a raw ``body``; every per-type class
    is a subclass, so ``pkt[Gearman]`` and ``haslayer(Gearman)`` find them all.
    """

    name = "Gearman"
    fields_desc: ClassVar[list[Any]] = [
        *_header(int(_T.ECHO_REQ), None),
        StrLenField("body", b"", length_from=lambda pkt: pkt.size or 0),
    ]
    match_subclass = True  # pkt[Gearman] / haslayer(Gearman) find every subclass
    spec: ClassVar[PacketSpec | None] = None

    def __init__(self, _pkt: bytes = b"", *args: Any, **fields: Any) -> None:
        known = {f.name for f in self.fields_desc}
        unknown = sorted(k for k in fields if k not in known and k not in _PACKET_KEYWORDS)
        if unknown:
            what = self.spec.name if self.spec else "a raw Gearman packet"
            raise TypeError(f"{what} has no field(s) {unknown}; its fields are {sorted(known)}")
        ptype = fields.get("type")
        if isinstance(ptype, str) and _resolve_type(ptype) is None:
            raise ValueError(f"unknown Gearman packet type name {ptype!r} (use a name from "
                             f"PacketType or a number for an unknown type)")
        super().__init__(_pkt, *args, **fields)

    # -- building ----------------------------------------------------------
    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.size is None:
            pkt = pkt[:8] + struct.pack("!I", len(pkt) - HEADER_SIZE) + pkt[HEADER_SIZE:]
        return pkt + pay

    # -- chaining and streams ------------------------------------------------
    def guess_payload_class(self, payload: bytes) -> type[ScapyPacket]:
        return Gearman  # its dispatch_hook tells binary from text

    @classmethod
    def tcp_reassemble(cls, data: bytes, metadata: dict[str, Any],
                       session: dict[str, Any]) -> ScapyPacket | None:
        """For TCPSession/StreamSocket: every complete packet in ``data``, the rest as padding."""
        end = complete_prefix(data)
        if end == 0:
            return None
        pkt = Gearman(data[:end])
        if end < len(data):
            pkt.add_payload(conf.padding_layer(data[end:]))
        return pkt

    # -- matching replies ----------------------------------------------------
    def answers(self, other: ScapyPacket) -> int:
        if not isinstance(other, Gearman):
            return 0
        replies = _REPLIES.get(_resolve_type(other.type))  # type: ignore[arg-type]
        if not replies or _resolve_type(self.type) not in replies:
            return 0
        if self.type == _T.ECHO_RES and other.type == _T.ECHO_REQ:
            return int(self.args == other.args)
        return 1

    # -- the codec's view ----------------------------------------------------
    @property
    def packet_type(self) -> PacketType | None:
        return _resolve_type(self.type)

    @property
    def args(self) -> tuple[bytes, ...]:
        """The arguments in wire order (a raw body is split as the type's arity says)."""
        ptype = self.packet_type
        if ptype is None or SPECS[ptype].arity == 0:
            return ()
        return tuple(bytes(self.body or b"").split(b"\0", SPECS[ptype].arity - 1))

    def named_args(self) -> dict[str, bytes]:
        spec = SPECS.get(self.packet_type) if self.packet_type else None
        names = spec.args if spec else ()
        return dict(zip(names, self.args, strict=False))

    def to_codec(self) -> Packet:
        """This packet as a codec ``Packet`` (ValueError if it is not well-formed)."""
        ptype = self.packet_type
        if ptype is None:
            raise ValueError(f"type number {self.type} is not a Gearman packet type")
        magic_bytes = self.getfieldval("magic")
        if magic_bytes is None:
            magic = SPECS[ptype].magic
        else:
            try:
                magic = Magic(bytes(magic_bytes))
            except ValueError:
                raise ValueError(f"{ptype.name} has bad magic {magic_bytes!r}") from None
        args = self.args
        if len(args) != SPECS[ptype].arity:
            raise ValueError(f"{ptype.name} needs {SPECS[ptype].arity} arguments "
                             f"{list(SPECS[ptype].args)}, its body holds {len(args)}")
        return Packet(magic, ptype, args, self._extra())

    def _extra(self) -> bytes:
        """Payload bytes of a no-argument type (the codec's ``Packet.extra``)."""
        ptype = self.packet_type
        return bytes(self.body or b"") if ptype and SPECS[ptype].arity == 0 else b""

    def mysummary(self) -> str:
        return summarize(self)

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any,
                      **kargs: Any) -> type[ScapyPacket]:
        if _pkt:
            return _class_for_bytes(bytes(_pkt))
        if "body" in kargs or "type" not in kargs:
            return Gearman
        ptype = _resolve_type(kargs["type"])
        return GEARMAN_CLASSES[ptype] if ptype is not None else Gearman

    @classmethod
    def from_codec(cls, packet: Packet) -> ScapyPacket:
        """The scapy packet for a codec ``Packet``, built field by field."""
        spec = SPECS[packet.type]
        fields: dict[str, Any] = {"type": int(packet.type), "magic": packet.magic.value}
        if spec.arity == 0:
            fields["extra"] = packet.extra
        elif packet.extra:
            fields["body"] = packet.payload
        else:
            fields.update(zip(spec.args, packet.args, strict=True))
        return Gearman(**fields)


class GearmanText(ScapyPacket):
    """One line of the text admin protocol (command or reply row)."""

    name = "Gearman admin line"
    fields_desc: ClassVar[list[Any]] = [
        _LineField("text", b""),
        _LineEndField("eol", b"\n"),
    ]

    def guess_payload_class(self, payload: bytes) -> type[ScapyPacket]:
        return Gearman

    tcp_reassemble = Gearman.tcp_reassemble

    def mysummary(self) -> str:
        return summarize(self)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _make_class(spec: PacketSpec) -> type[Gearman]:
    if spec.arity == 0:
        arg_fields: list[Any] = [StrLenField("extra", b"", length_from=lambda p: p.size or 0)]
    else:
        arg_fields = [_ArgField(name, b"") for name in spec.args[:-1]]
        arg_fields.append(_LastArgField(spec.args[-1], spec.args[:-1]))
    names = spec.args

    def args(self: Gearman) -> tuple[bytes, ...]:
        return tuple(bytes(self.getfieldval(n) or b"") for n in names)

    def extra(self: Gearman) -> bytes:
        return bytes(self.getfieldval("extra") or b"") if not names else b""

    return type(f"Gearman{_camel(spec.name)}", (Gearman,), {
        "__module__": __name__,
        "__doc__": f"Gearman {spec.name} ({int(spec.type)}): arguments {list(spec.args)}.",
        "name": f"Gearman {spec.name}",
        "spec": spec,
        "fields_desc": [*_header(int(spec.type), spec.magic.value), *arg_fields],
        "args": property(args),
        "_extra": extra,
    })


GEARMAN_CLASSES: dict[PacketType, type[Gearman]] = {
    ptype: _make_class(spec) for ptype, spec in SPECS.items()
}
globals().update({cls.__name__: cls for cls in GEARMAN_CLASSES.values()})


def _class_for_bytes(data: bytes) -> type[ScapyPacket]:
    if data[:1] != b"\0":
        return GearmanText
    if len(data) < HEADER_SIZE:
        return conf.raw_layer  # not even a whole header
    _magic, number, size = _HEADER.unpack_from(data)
    ptype = _resolve_type(number)
    if ptype is None:
        return Gearman
    arity = SPECS[ptype].arity
    if arity > 1 and data[HEADER_SIZE:HEADER_SIZE + size].count(b"\0") < arity - 1:
        return Gearman  # missing NUL separators: keep the body raw
    return GEARMAN_CLASSES[ptype]


def complete_prefix(data: bytes) -> int:
    """How many leading bytes of a stream form complete packets and lines.

    Framing is the codec's: a stream it cannot frame (bad magic, unknown
    type, oversized) is handed over whole, since no later boundary is known.
    """
    decoder = Decoder()
    decoder.feed(data)
    end = 0
    while True:
        try:
            if decoder.next_event() is None:
                return end
        except MissingArgumentsError:
            pass
        except ProtocolError:
            return len(data)
        end = decoder.offset


# -- summaries -----------------------------------------------------------------
def _short(value: bytes, full: bool) -> str:
    text = printable(bytes(value))
    if not full and len(text) > _SUMMARY_WIDTH:
        return f"'{text[:_SUMMARY_WIDTH]}'...({len(value)} bytes)"
    return f"'{text}'"


def summarize(pkt: ScapyPacket, *, full: bool = False) -> str:
    """One line for one Gearman layer: side, type and named arguments."""
    if isinstance(pkt, GearmanText):
        return f"TEXT {_short(pkt.text, full)}"
    if not isinstance(pkt, Gearman):
        return pkt.summary()
    magic = pkt.getfieldval("magic")
    if magic is None:  # what _MagicField will send
        side = "RES" if pkt.packet_type and SPECS[pkt.packet_type].magic is Magic.RES else "REQ"
    elif magic:
        side = {Magic.REQ.value: "REQ", Magic.RES.value: "RES"}.get(bytes(magic),
                                                                    f"magic={magic!r}")
    else:
        side = ""
    name = pkt.packet_type.name if pkt.packet_type else f"type={pkt.type}"
    parts = [side, name]
    if pkt.spec is None:
        parts.append(f"body={_short(pkt.body or b'', full)}")
    else:
        parts += [f"{k}={_short(v, full)}" for k, v in pkt.named_args().items()]
        extra = pkt._extra()
        if extra:
            parts.append(f"extra={_short(extra, full)}")
    declared = pkt.size
    actual = len(pkt.self_build()) - HEADER_SIZE
    if declared is not None and declared != actual:
        parts.append(f"size={declared} (body has {actual})")
    return " ".join(parts)


# -- TCP ports -------------------------------------------------------------------
_bound_ports: set[int] = set()


def bind_port(port: int) -> None:
    """Dissect TCP traffic to or from ``port`` as Gearman (4730 is bound on import)."""
    if port in _bound_ports:
        return
    bind_layers(TCP, Gearman, sport=port)
    bind_layers(TCP, Gearman, dport=port)
    _bound_ports.add(port)


def unbind_port(port: int) -> None:
    if port not in _bound_ports:
        return
    split_layers(TCP, Gearman, sport=port)
    split_layers(TCP, Gearman, dport=port)
    _bound_ports.discard(port)


def bound_ports() -> frozenset[int]:
    return frozenset(_bound_ports)


bind_port(GEARMAN_PORT)

__all__ = [
    "GEARMAN_CLASSES", "GEARMAN_PORT", "TYPE_NAMES", "Gearman", "GearmanText", "bind_port",
    "bound_ports", "complete_prefix", "summarize", "unbind_port",
    *(cls.__name__ for cls in GEARMAN_CLASSES.values()),
]
