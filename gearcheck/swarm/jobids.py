"""The job id every load payload starts with, so a worker knows what it ran.

Strategy: ``gcj:<origin>:<seq>:<f|b>;`` then filler up to the requested size.
``origin`` names one client user uniquely across processes and machines
(random hex chosen at start plus a counter), ``seq`` counts that user's
submissions, and ``f``/``b`` says foreground or background so a worker can
tell which invariant the execution counts towards. Parsing is strict and
cheap: anything else is a foreign job (someone else's traffic on the server).
"""

from __future__ import annotations

import itertools
import os

PREFIX = b"gcj:"
_counter = itertools.count()
_PROCESS_TAG = os.urandom(3).hex()


def new_origin() -> str:
    """A label no other user in this run (any process, any machine) will have."""
    return f"{_PROCESS_TAG}{next(_counter):x}"


def make_payload(origin: bytes, seq: int, background: bool, size: int, filler: bytes) -> bytes:
    head = b"%s%s:%d:%s;" % (PREFIX, origin, seq, b"b" if background else b"f")
    pad = size - len(head)
    if pad <= 0:
        return head
    if pad <= len(filler):
        return head + filler[:pad]
    return head + filler * (pad // len(filler)) + filler[: pad % len(filler)]


def parse_job_id(payload: bytes) -> tuple[bytes, bool] | None:
    """(``origin:seq``, background) from a payload, or None for a foreign payload."""
    if not payload.startswith(PREFIX):
        return None
    end = payload.find(b";", 4, 64)
    if end < 0 or end < 7 or payload[end - 2:end - 1] != b":":
        return None
    kind = payload[end - 1:end]
    if kind not in (b"b", b"f"):
        return None
    return payload[4:end - 2], kind == b"b"
