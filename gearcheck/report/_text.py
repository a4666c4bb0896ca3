"""Shortening values for the human-readable outputs (HTML, JUnit, Markdown).

A case may send a megabyte of payload; report.json keeps every byte, but a
person reading a page or a CI log needs the start of a long string and its
length. ``clip`` walks dicts and lists and cuts long strings in place of the
originals (on copies), so structure stays visible.
"""

from __future__ import annotations

MAX_CHARS = 200


def clip_text(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} chars)"


def clip(value: object, limit: int = MAX_CHARS) -> object:
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, bytes | bytearray):
        return clip_text(bytes(value).hex(), limit)
    if isinstance(value, dict):
        return {k: clip(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clip(v, limit) for v in value]
    return value
