"""Matchers: does a received field satisfy what the scenario wrote?

Strategy: a matcher spec (plain YAML data) is interpreted directly against
bytes, with the case's ``Variables`` for placeholders and captures. A match
never has side effects until it succeeds: captures are collected in a
``Captures`` dict and committed by the caller only when the whole packet (or
row) matched, so a failed attempt against one packet leaves no stray
variables behind.

Specs:
  "text" / 42         exact bytes (placeholders expanded; integers as decimal)
  null / {any: true}  anything
  {equals: VALUE}     exact, VALUE as in a send ({hex:..}, {fill:..}, text)
  {hex: "00 01"}      exact bytes given in hex
  {regex: "H:.*"}     full match of the regex against the bytes (DOTALL)
  {len: 5} / {len: {min: 1, max: 63}}  length in bytes
  {one_of: [m, ...]}  any of the matchers
  {not: m}            the matcher must fail
  {capture: name}     store the bytes as ${name} (combines with the others)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .values import Variables, hex_bytes

Captures = dict[str, bytes]


def match(spec: Any, actual: bytes, variables: Variables, captures: Captures) -> bool:
    if spec is None:
        return True
    if isinstance(spec, (str, int)) and not isinstance(spec, bool):
        return actual == variables.value(spec)
    if not isinstance(spec, dict):
        return False
    ok = True
    if "any" in spec:
        ok = True
    if ok and "equals" in spec:
        ok = actual == variables.value(spec["equals"])
    if ok and "hex" in spec:
        ok = actual == hex_bytes(variables.expand_text(spec["hex"]))
    if ok and "regex" in spec:
        ok = variables.expand_regex(spec["regex"]).fullmatch(actual) is not None
    if ok and "len" in spec:
        ok = _length_ok(spec["len"], len(actual))
    if ok and "one_of" in spec:
        ok = any(match(alt, actual, variables, captures) for alt in spec["one_of"])
    if ok and "not" in spec:
        ok = not match(spec["not"], actual, variables, {})
    if ok and "capture" in spec:
        captures[spec["capture"]] = actual
    return ok


def _length_ok(spec: int | Mapping[str, int], n: int) -> bool:
    if isinstance(spec, int):
        return n == spec
    return spec.get("min", 0) <= n <= spec.get("max", n)


def count_ok(spec: int | Mapping[str, int], n: int) -> bool:
    return _length_ok(spec, n)


def undefined_references(spec: Any, variables: Variables) -> bool:
    """True when the spec mentions a placeholder that cannot be expanded yet."""
    if isinstance(spec, str):
        return variables.references_undefined(spec)
    if isinstance(spec, dict):
        return any(undefined_references(v, variables) for k, v in spec.items() if k != "capture")
    if isinstance(spec, list):
        return any(undefined_references(v, variables) for v in spec)
    return False
