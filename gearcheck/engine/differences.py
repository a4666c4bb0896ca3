"""What differs: expected against actual, field by field, for the one-line message and the page.

Strategy: a failure names each field that differs, with the expected side as
the case meant it (placeholders expanded, the placeholder text beside it:
``"H:vm:12" (${h})``) and the actual side as it came (quoted, escaped, cut when
long): ``STATUS_RES.known: expected "0", got "1"``. A ``Difference`` also
carries where the field sits in the result's ``expected`` and ``actual``
values (a path of keys and indexes), so report.html can mark it there.

``describe_matcher`` and ``describe_args`` give the structured ``expected``
value of a result (the same expansion, as plain text, matchers kept as
mappings); ``matcher_text`` gives the phrase for a message.
``packet_differences`` compares one expected packet with one that arrived;
admin rows are compared by engine.admin_steps with these same pieces.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ..protocol import AdminLine, Magic, Packet, printable
from .matchers import match
from .values import ScenarioError, Variables

QUOTED_MAX = 80  # characters of a value shown in a message
SHOWN_DIFFERENCES = 4  # differences named in one message (evidence has them all)
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")

Path = list[str | int]


@dataclass(frozen=True)
class Difference:
    """One field that is not what the case expected."""

    field: str            # "STATUS_RES.known", "status row 1 (gc.r.GM-A-001) TOTAL", "" (the whole)
    expected: str         # as a phrase: '"0"', '"H:vm:12" (${h})', 'a match of /H:.+/'
    actual: str           # as it came: '"1"', 'ERROR code="QUEUE_ERROR"', 'nothing'
    expected_path: Path = dataclasses.field(default_factory=list)  # into the result's expected
    actual_path: Path = dataclasses.field(default_factory=list)    # into the result's actual

    def text(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}expected {self.expected}, got {self.actual}"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual,
                "expected_path": list(self.expected_path),
                "actual_path": list(self.actual_path)}


def one_line(differences: list[Difference], limit: int = SHOWN_DIFFERENCES) -> str:
    """The differences as one sentence (the first ``limit``, then how many more)."""
    shown = "; ".join(d.text() for d in differences[:limit])
    more = len(differences) - limit
    return shown + (f" (and {more} more difference(s))" if more > 0 else "")


def quoted(value: bytes, limit: int = QUOTED_MAX) -> str:
    """Bytes for a message: quoted, escaped where not printable, cut when long."""
    text = printable(value)
    if len(text) > limit:
        return f'"{text[:limit]}"... ({len(value)} bytes)'
    return f'"{text}"'


def _expanded(template: str, variables: Variables) -> tuple[bytes | None, bool]:
    """The template's bytes (None when a placeholder is not defined yet), and whether it
    had placeholders at all."""
    has = bool(_PLACEHOLDER.search(template))
    try:
        return variables.expand(template), has
    except ScenarioError:
        return None, has


def value_text(spec: Any, variables: Variables) -> str:
    """A value spec (text, number, {hex}, {fill}) as a message phrase, placeholders named."""
    if isinstance(spec, str):
        value, has = _expanded(spec, variables)
        if value is None:
            return f"{spec} (not defined yet)"
        return quoted(value) + (f" ({spec})" if has else "")
    if isinstance(spec, int) and not isinstance(spec, bool):
        return quoted(str(spec).encode())
    try:
        return quoted(variables.value(spec))
    except (ScenarioError, ValueError, KeyError, TypeError):
        return repr(spec)


def matcher_text(spec: Any, variables: Variables) -> str:
    """What a matcher spec accepts, as a phrase for a message."""
    if spec is None:
        return "anything"
    if not isinstance(spec, dict):
        return value_text(spec, variables)
    parts: list[str] = []
    if "equals" in spec:
        parts.append(value_text(spec["equals"], variables))
    if "hex" in spec:
        parts.append(value_text({"hex": spec["hex"]}, variables))
    if "regex" in spec:
        pattern = spec["regex"]
        value, has = _expanded(pattern, variables)
        shown = printable(value) if value is not None else pattern
        parts.append(f"a match of /{shown}/" + (f" ({pattern})" if has else ""))
    if "len" in spec:
        size = spec["len"]
        parts.append(f"{size} bytes long" if isinstance(size, int) else
                     f"{size.get('min', 0)}..{size.get('max', 'any')} bytes long")
    if "one_of" in spec:
        parts.append("one of " + ", ".join(matcher_text(m, variables) for m in spec["one_of"]))
    if "not" in spec:
        parts.append("not " + matcher_text(spec["not"], variables))
    return " and ".join(parts) or "anything"


def describe_matcher(spec: Any, variables: Variables) -> Any:
    """A matcher spec for a result's ``expected``: text expanded (with its placeholders
    beside it), matcher mappings kept, captures shown as what they store."""
    if spec is None:
        return "<any>"
    if isinstance(spec, str):
        value, has = _expanded(spec, variables)
        if value is None:
            return f"{spec} (not defined yet)"
        return printable(value) + (f" ({spec})" if has else "")
    if isinstance(spec, dict):
        out: dict[str, Any] = {}
        for key, inner in spec.items():
            if key in ("equals", "not"):
                out[key] = describe_matcher(inner, variables)
            elif key == "one_of":
                out[key] = [describe_matcher(m, variables) for m in inner]
            elif key == "regex":
                value, has = _expanded(inner, variables)
                out[key] = (printable(value) if value is not None else inner) \
                    + (f" ({inner})" if has else "")
            elif key == "capture":
                out[key] = f"${{{inner}}}"
            else:
                out[key] = inner
        return out
    if isinstance(spec, list):
        return [describe_matcher(m, variables) for m in spec]
    return spec


def describe_args(args: Any, variables: Variables) -> Any:
    """A packet's expected arguments (by name or by position), each matcher described."""
    if isinstance(args, dict):
        return {name: describe_matcher(m, variables) for name, m in args.items()}
    if isinstance(args, list):
        return [describe_matcher(m, variables) for m in args]
    return args


def packet_brief(item: Any) -> str:
    """What arrived, for the actual side of a message: ``ERROR code="X" text="..."``."""
    if isinstance(item, Packet):
        args = " ".join(f"{name}={quoted(value, 40)}"
                        for name, value in item.named_args().items())
        magic = "" if item.magic is Magic.RES else f" ({'REQ' if item.magic is Magic.REQ else '?'})"
        return f"{item.name}{magic}" + (f" {args}" if args else "")
    if isinstance(item, AdminLine):
        return f"the line {quoted(item.text)}"
    return repr(item)


def packet_differences(spec: dict[str, Any], item: Any, variables: Variables,
                       default_magic: str = "RES") -> list[Difference]:
    """How ``item`` differs from the ``expect`` spec (empty only if it would match)."""
    if "line" in spec:
        if isinstance(item, AdminLine):
            return [Difference("line", matcher_text(spec["line"], variables), quoted(item.text),
                               ["line"], ["line"])]
        return [Difference("", f"the line {matcher_text(spec['line'], variables)}",
                           packet_brief(item), ["line"], [])]
    wanted = spec.get("packet")
    types = [wanted] if isinstance(wanted, str) else list(wanted or [])
    if not isinstance(item, Packet) or item.name not in types:
        return [Difference("", "/".join(types), packet_brief(item), ["packet"], ["type"])]
    magic = spec.get("magic", default_magic)
    if magic != "any" and item.magic is not Magic[magic]:
        got = "REQ" if item.magic is Magic.REQ else "RES"
        return [Difference(f"{item.name}.magic", magic, got, ["magic"], ["magic"])]
    args = spec.get("args")
    if args is None:
        return []
    names = list(item.spec.args)
    if isinstance(args, list):
        if len(args) != len(item.args):
            return [Difference(f"{item.name}", f"{len(args)} argument(s)",
                               f"{len(item.args)}: {packet_brief(item)}", ["args"], ["args"])]
        pairs = [(names[i] if i < len(names) else f"arg{i}", i, m)
                 for i, m in enumerate(args)]
    else:
        pairs = [(name, name, m) for name, m in args.items()]
    out: list[Difference] = []
    for name, key, matcher in pairs:
        if name not in names:
            out.append(Difference(f"{item.name}.{name}", matcher_text(matcher, variables),
                                  f"no such argument ({item.name} has {', '.join(names)})",
                                  ["args", key], ["args"]))
            continue
        actual = item.args[names.index(name)]
        if not match(matcher, actual, variables, {}):
            out.append(Difference(f"{item.name}.{name}", matcher_text(matcher, variables),
                                  quoted(actual), ["args", key], ["args", name]))
    return out
