"""The two kinds of event the codec produces: binary packets and admin lines.

Strategy: a ``Packet`` is plain data (magic, type, argument tuple) that knows
its arguments' names through the packet table, so callers write
``pkt.arg("handle")`` and never index by position. ``Packet.build`` checks the
argument count against the table; the raw constructor does not, so malformed
packets can still be represented and encoded on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._table import SPECS, Magic, PacketSpec, PacketType


def _as_bytes(value: bytes | bytearray | memoryview | str | int) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode("ascii")
    raise TypeError(f"packet arguments are bytes, str or int, not {type(value).__name__}")


class Packet:
    """One binary Gearman packet."""

    __slots__ = ("args", "extra", "magic", "type")

    def __init__(self, magic: Magic, type: PacketType, args: tuple[bytes, ...] = (),
                 extra: bytes = b"") -> None:
        self.magic = magic
        self.type = type
        self.args = args
        # Payload bytes sent with a type that has no arguments (gearmand reads
        # and discards them); empty for every well-formed packet.
        self.extra = extra

    @classmethod
    def build(cls, ptype: PacketType | int | str, *args: Any, magic: Magic | None = None,
              **named: Any) -> Packet:
        """A well-formed packet: arguments by position or by name, bytes/str/int."""
        spec = _spec(ptype)
        if args and named:
            raise TypeError("give the arguments by position or by name, not both")
        if named:
            unknown = set(named) - set(spec.args)
            if unknown:
                raise TypeError(f"{spec.name} has no argument(s) {sorted(unknown)}; "
                                f"it takes {list(spec.args)}")
            missing = [a for a in spec.args if a not in named]
            if missing:
                raise TypeError(f"{spec.name} is missing argument(s) {missing}")
            args = tuple(named[a] for a in spec.args)
        if len(args) != spec.arity:
            raise TypeError(f"{spec.name} takes {spec.arity} argument(s) {list(spec.args)}, "
                            f"got {len(args)}")
        return cls(magic or spec.magic, spec.type, tuple(_as_bytes(a) for a in args))

    @property
    def spec(self) -> PacketSpec:
        return SPECS[self.type]

    @property
    def name(self) -> str:
        return self.type.name

    def arg(self, name: str) -> bytes:
        try:
            return self.args[self.spec.args.index(name)]
        except ValueError:
            raise KeyError(f"{self.name} has no argument {name!r}; "
                           f"it has {list(self.spec.args)}") from None

    def named_args(self) -> dict[str, bytes]:
        return dict(zip(self.spec.args, self.args, strict=False))

    def with_magic(self, magic: Magic) -> Packet:
        return Packet(magic, self.type, self.args, self.extra)

    @property
    def payload(self) -> bytes:
        return b"\0".join(self.args) + self.extra

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return (self.magic == other.magic and self.type == other.type
                and self.args == other.args and self.extra == other.extra)

    def __hash__(self) -> int:
        return hash((self.magic, self.type, self.args, self.extra))

    def __repr__(self) -> str:
        side = "REQ" if self.magic is Magic.REQ else "RES"
        fields = ", ".join(f"{k}={v!r}" for k, v in self.named_args().items())
        extra = f", extra={self.extra!r}" if self.extra else ""
        return f"<{side} {self.name}({fields}{extra})>"

    def describe(self) -> Mapping[str, Any]:
        """A JSON-friendly view (arguments as text where they decode, else hex)."""
        return {
            "magic": "REQ" if self.magic is Magic.REQ else "RES",
            "type": self.name,
            "number": int(self.type),
            "args": {k: printable(v) for k, v in self.named_args().items()},
        }


def printable(value: bytes) -> str:
    """Bytes as readable text: UTF-8 where it decodes, with escapes for the rest."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1").encode("unicode_escape").decode("ascii")
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def _spec(ptype: PacketType | int | str) -> PacketSpec:
    from ._table import spec_for

    return spec_for(ptype)


class AdminLine:
    """One line of the text admin protocol, without its line ending."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AdminLine) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"<AdminLine {self.text!r}>"


Event = Packet | AdminLine
