"""Shortening values for the human-readable outputs (HTML, JUnit, Markdown).

A case may send a megabyte of payload, or read a status listing of ten
thousand functions; report.json keeps every byte, but a person reading a page
or a CI log needs the start of a long string and its length, and the first
items of a long list and how many there were. ``clip`` walks dicts and lists
and cuts long strings and lists in place of the originals (on copies), so
structure stays visible.
"""

from __future__ import annotations

MAX_CHARS = 200
MAX_ITEMS = 50


def clip_text(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} chars)"


def clip(value: object, limit: int = MAX_CHARS, items: int = MAX_ITEMS) -> object:
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, bytes | bytearray):
        return clip_text(bytes(value).hex(), limit)
    if isinstance(value, dict):
        kept = {k: clip(v, limit, items) for k, v in list(value.items())[:items]}
        if len(value) > items:
            kept["…"] = f"{len(value) - items} more keys (all of them are in report.json)"
        return kept
    if isinstance(value, list | tuple):
        out = [clip(v, limit, items) for v in value[:items]]
        if len(value) > items:
            out.append(f"… {len(value) - items} more items (all of them are in report.json)")
        return out
    return value
