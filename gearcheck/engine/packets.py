"""Scenario packet specs to bytes (sending) and to judgements (receiving).

Strategy: ``build_send`` turns a ``send`` step into the exact bytes to write:
well-formed packets through ``Packet.build`` and ``encode``, malformed ones
field by field through ``encode_raw`` (any magic, any type number, fields
joined with NUL or a raw payload, any declared size), raw hex as is. With the
bytes it returns what they are, from what it built (the ``Packet``, the
``AdminLine``, the fields of a malformed packet), for the transcript: the
bytes are never decoded again to say what was sent.
``packet_matches`` judges one received event against an ``expect`` spec:
packet type, magic (``\\0RES`` unless the spec says otherwise) and each named
or positional argument through the matchers; captures are returned, not
stored, so the caller commits them only on a match.

The magic of both directions is a parameter: a conformance case sends
``\\0REQ`` and expects ``\\0RES``; a mirrored case (the harness as the server)
the other way round.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..protocol import (
    SPECS,
    AdminLine,
    Magic,
    Packet,
    PacketType,
    encode,
    encode_raw,
    printable,
    spec_for,
)
from .actors import Item, packet_summary
from .differences import describe_args, describe_matcher
from .matchers import Captures, match
from .values import ScenarioError, Variables, hex_bytes


def _magic(spec: Any, variables: Variables, default: Magic) -> bytes:
    if spec is None:
        return default.value
    if spec in ("REQ", "RES"):
        return Magic[spec].value
    return variables.value(spec)


class Outgoing(NamedTuple):
    data: bytes  # exactly what is written
    about: Packet | AdminLine | dict[str, object] | None  # what it is (None: raw bytes)


def build_packet(spec: dict[str, Any], variables: Variables,
                 default: Magic = Magic.REQ) -> Outgoing:
    ptype = PacketType[spec["packet"]]
    pspec = SPECS[ptype]
    args = spec.get("args", {} if not pspec.args else None)
    if args is None:
        raise ScenarioError(f"{ptype.name} needs args {list(pspec.args)}")
    if isinstance(args, dict):
        values = [variables.value(args[name]) for name in pspec.args]
    else:
        values = [variables.value(v) for v in args]
    magic = spec.get("magic")
    if magic is None or magic in ("REQ", "RES"):
        packet = Packet.build(ptype, *values, magic=Magic[magic] if magic else default)
        return Outgoing(encode(packet), packet)
    magic_bytes = _magic(magic, variables, default)
    names = list(pspec.args) + [f"arg{i}" for i in range(len(pspec.args), len(values))]
    return Outgoing(encode_raw(magic_bytes, int(ptype), b"\0".join(values)),
                    {"magic": printable(magic_bytes), "type": ptype.name, "number": int(ptype),
                     "args": {n: printable(v) for n, v in zip(names, values, strict=False)}})


def build_malformed(spec: dict[str, Any], variables: Variables) -> Outgoing:
    magic = _magic(spec.get("magic"), variables, Magic.REQ)
    ptype = spec.get("type", int(PacketType.ECHO_REQ))
    number = int(spec_for(ptype).type) if isinstance(ptype, str) else int(ptype)
    if "payload" in spec:
        payload = variables.value(spec["payload"])
    else:
        payload = b"\0".join(variables.value(v) for v in spec.get("args", []))
    data = encode_raw(magic, number, payload, size=spec.get("size"))
    known = next((t.name for t in PacketType if int(t) == number), None)
    return Outgoing(data, {"malformed": {
        "magic": printable(magic), "type": known or number, "number": number,
        "size": spec.get("size", len(payload)), "payload_bytes": len(payload)}})


def _summary(about: Packet | AdminLine | dict[str, object] | None) -> dict[str, object]:
    if isinstance(about, Packet):
        return packet_summary(about)
    if isinstance(about, AdminLine):
        return {"line": printable(about.text)}
    return dict(about or {})


def build_send(spec: dict[str, Any], variables: Variables,
               default: Magic = Magic.REQ) -> Outgoing:
    if "packet" in spec:
        return build_packet(spec, variables, default)
    if "packets" in spec:
        built = [(build_packet(p, variables, default), int(p.get("times", 1)))
                 for p in spec["packets"]]
        return Outgoing(b"".join(out.data * times for out, times in built),
                        {"packets": [_summary(out.about) for out, times in built
                                     for _ in range(times)]})
    if "raw" in spec:
        return Outgoing(hex_bytes(variables.expand_text(spec["raw"])), None)
    if "line" in spec:
        line = variables.expand(spec["line"])
        data = line if line.endswith(b"\n") else line + b"\n"
        return Outgoing(data, AdminLine(data[:-1].removesuffix(b"\r")))
    if "malformed" in spec:
        return build_malformed(spec["malformed"], variables)
    raise ScenarioError(f"send step has nothing to send: {dict(spec)}")


def expected_types(spec: dict[str, Any]) -> list[str]:
    p = spec.get("packet")
    if p is None:
        return []
    return [p] if isinstance(p, str) else list(p)


def packet_matches(spec: dict[str, Any], item: Item, variables: Variables,
                   default_magic: str = "RES") -> Captures | None:
    """The captures if ``item`` satisfies ``spec``, else None."""
    captures: Captures = {}
    if "line" in spec:
        if isinstance(item, AdminLine) and match(spec["line"], item.text, variables, captures):
            return captures
        return None
    if not isinstance(item, Packet) or item.name not in expected_types(spec):
        return None
    magic = spec.get("magic", default_magic)
    if magic != "any" and item.magic is not Magic[magic]:
        return None
    args = spec.get("args")
    if args is None:
        return captures
    if isinstance(args, list):
        if len(args) != len(item.args):
            return None
        pairs = list(zip(args, item.args, strict=True))
    else:
        names = item.spec.args
        pairs = []
        for name, matcher in args.items():
            if name not in names:
                return None
            pairs.append((matcher, item.args[names.index(name)]))
    for matcher, actual in pairs:
        if not match(matcher, actual, variables, captures):
            return None
    return captures


def describe_expect(spec: dict[str, Any], variables: Variables,
                    default_magic: str = "RES") -> dict[str, Any]:
    """The expected packet for a result's ``expected``: placeholders expanded, with their
    text beside them (engine.differences)."""
    out: dict[str, Any] = {"on": spec["on"]}
    if "line" in spec:
        out["line"] = describe_matcher(spec["line"], variables)
        return out
    out["packet"] = spec["packet"]
    if spec.get("magic", default_magic) != default_magic:
        out["magic"] = spec["magic"]
    if "args" in spec:
        out["args"] = describe_args(spec["args"], variables)
    return out


def describe_item(item: Item) -> Any:
    if isinstance(item, Packet):
        return dict(item.describe())
    if isinstance(item, AdminLine):
        return {"line": printable(item.text)}
    return repr(item)


def check_arg_names(ptype_name: str, names: list[str]) -> str | None:
    """An error message if ``names`` are not arguments of the packet type."""
    spec = SPECS[PacketType[ptype_name]]
    bad = [n for n in names if n not in spec.args]
    if bad:
        return (f"{ptype_name} has no argument(s) {bad}; its arguments are "
                f"{list(spec.args) or 'none'}")
    return None
