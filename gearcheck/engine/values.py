"""Placeholders and byte values: how scenario text becomes the bytes on the wire.

Strategy: every string in a scenario may hold ``${...}`` placeholders. They
are expanded at run time, into bytes, by ``Variables``: literal text is
encoded as UTF-8 and a variable's bytes are inserted as they are (so a
captured job handle goes back on the wire byte for byte). Inside a regex the
variable's bytes are escaped, so ``${h}`` matches the handle literally.

Placeholders:
  ${fn} ${fn:NAME}      a function name unique to this run and case
  ${uniq} ${uniq:NAME}  a unique id unique to this run and case (< 64 bytes)
  ${run} ${case}        the run id and the case id
  ${epoch:+N} ${epoch:-N}  Unix time now plus or minus N seconds
  ${NAME}               a variable captured earlier, or a repeat counter
  $${                   a literal "${"

Values that are not strings: an integer is its decimal text; ``{hex: ...}`` is
raw bytes (whitespace ignored); ``{fill: X, size: N}`` is X repeated to N bytes.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")


class ScenarioError(Exception):
    """The scenario asks for something impossible at run time (a harness ERROR)."""


def hex_bytes(text: str) -> bytes:
    cleaned = re.sub(r"\s+", "", text)
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ScenarioError(f"{text[:40]!r} is not valid hex") from None


class Variables:
    """The names a case can refer to, and the expansion of text into bytes."""

    def __init__(self, run_id: str, case_id: str) -> None:
        self.run_id = run_id
        self.case_id = case_id
        self.values: dict[str, bytes] = {}

    # -- names ---------------------------------------------------------------
    def function(self, name: str = "") -> str:
        return f"gc.{self.run_id}.{self.case_id}" + (f".{name}" if name else "")

    def unique(self, name: str = "") -> str:
        text = f"u.{self.run_id}.{self.case_id}" + (f".{name}" if name else "")
        if len(text) > 60:  # stay well under gearmand's 64-byte unique limit
            text = "u." + hashlib.sha1(text.encode()).hexdigest()[:40]
        return text

    def set(self, name: str, value: bytes) -> None:
        self.values[name] = value

    def lookup(self, token: str) -> bytes:
        name, _, arg = token.partition(":")
        if name == "fn":
            return self.function(arg).encode()
        if name == "uniq":
            return self.unique(arg).encode()
        if name == "run" and not arg:
            return self.run_id.encode()
        if name == "case" and not arg:
            return self.case_id.encode()
        if name == "epoch":
            try:
                offset = int(arg or "0")
            except ValueError:
                raise ScenarioError(f"${{{token}}}: the epoch offset {arg!r} is not an "
                                    "integer number of seconds") from None
            return str(int(time.time()) + offset).encode()
        if token in self.values:
            return self.values[token]
        known = ", ".join(sorted(self.values)) or "none yet"
        raise ScenarioError(f"${{{token}}} is not defined at this step (captured so far: "
                            f"{known})")

    def defined(self, token: str) -> bool:
        try:
            self.lookup(token)
        except ScenarioError:
            return False
        return True

    # -- expansion -----------------------------------------------------------
    def expand(self, text: str) -> bytes:
        out = bytearray()
        pos = 0
        for m in _PLACEHOLDER.finditer(text):
            out += text[pos:m.start()].encode("utf-8")
            out += b"${" if m.group(0) == "$${" else self.lookup(m.group(1))
            pos = m.end()
        out += text[pos:].encode("utf-8")
        return bytes(out)

    def expand_text(self, text: str) -> str:
        return self.expand(text).decode("utf-8", "replace")

    def expand_regex(self, pattern: str) -> re.Pattern[bytes]:
        out = bytearray()
        pos = 0
        for m in _PLACEHOLDER.finditer(pattern):
            out += pattern[pos:m.start()].encode("utf-8")
            out += re.escape(b"${" if m.group(0) == "$${" else self.lookup(m.group(1)))
            pos = m.end()
        out += pattern[pos:].encode("utf-8")
        try:
            return re.compile(bytes(out), re.DOTALL)
        except re.error as exc:
            raise ScenarioError(f"regex {pattern!r} does not compile: {exc}") from None

    def references_undefined(self, text: str) -> bool:
        return any(m.group(1) is not None and not self.defined(m.group(1))
                   for m in _PLACEHOLDER.finditer(text))

    def value(self, spec: Any) -> bytes:
        """A value spec (str, int, {hex}, {fill, size}) as bytes."""
        if isinstance(spec, bool):
            raise ScenarioError(f"{spec!r} is not a byte value")
        if isinstance(spec, str):
            return self.expand(spec)
        if isinstance(spec, int):
            return str(spec).encode()
        if isinstance(spec, dict):
            if "hex" in spec:
                return hex_bytes(self.expand_text(spec["hex"]))
            if "fill" in spec:
                unit = self.expand(spec["fill"])
                size = int(spec["size"])
                return (unit * (size // len(unit) + 1))[:size]
        raise ScenarioError(f"{spec!r} is not a byte value")


def describe_bytes(value: bytes, limit: int = 120) -> str:
    """Bytes as short readable text for messages."""
    from ..protocol import printable

    text = printable(value)
    if len(text) > limit:
        return f"{text[:limit]}... ({len(value)} bytes)"
    return text
