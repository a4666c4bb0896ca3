"""Known back-end defects: which chaos failures are expected, and why.

Strategy: fixtures/baselines/chaos.yaml lists entries, each naming the cells
it covers (server or servers, and optionally back end and nemeses), the failure kinds it
expects (lost, altered, ...), optionally a regular expression the failure's
detail must match, and always a reason. A failing cell is XFAIL when every
one of its failures is covered by some entry, FAIL when one is not. A cell
an entry covers that passes is an XPASS (the defect did not show) unless the
entry is ``flaky``: most durability defects need a fault to land at the
right moment, so a randomized run does not hit them every time. Errors name
``file:line`` and the field, as every file format of gearcheck does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..yaml_positions import PosDict, entry_failure, load_entries, read_entries_file
from .checker import FAILURE_KINDS
from .nemesis import NEMESES

DEFAULT_BASELINE = paths.BASELINES_DIR / "chaos.yaml"
KEYS = {"server", "backend", "nemesis", "kinds", "match", "reason", "flaky"}


class BaselineError(ValueError):
    """The baseline file cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class KnownDefect:
    servers: tuple[str, ...]
    backend: str | None
    nemeses: tuple[str, ...]       # empty: every nemesis
    kinds: tuple[str, ...]
    match: re.Pattern[str] | None
    reason: str
    flaky: bool
    where: str

    def covers_cell(self, server: str, backend: str | None, nemesis: str) -> bool:
        """``nemesis`` is a cell's label: one name, or several joined with '+'."""
        return (server in self.servers and (self.backend is None or self.backend == backend)
                and (not self.nemeses or all(n in self.nemeses for n in nemesis.split("+"))))

    def covers(self, failure: dict[str, Any]) -> bool:
        return failure.get("kind") in self.kinds and (
            self.match is None or self.match.search(str(failure.get("detail", ""))) is not None)


def load_baseline(path: Path | None = None) -> list[KnownDefect]:
    path = path or DEFAULT_BASELINE
    text = read_entries_file(path, "chaos baseline", BaselineError)
    return [_entry(path, item, line)
            for item, line in load_entries(text, path, "known", BaselineError)]


def _entry(path: Path, item: object, line: int) -> KnownDefect:
    fail = entry_failure(path, item, line, BaselineError)

    if not isinstance(item, PosDict):
        raise fail(None, "each known defect is a mapping with server, kinds and reason")
    unknown = sorted(set(item) - KEYS, key=str)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r} (keys: {', '.join(sorted(KEYS))})")
    server = item.get("server")
    servers = [server] if isinstance(server, str) else server
    if not isinstance(servers, list) or not servers or not all(
            isinstance(s, str) and s for s in servers):
        raise fail("server", "'server' (a name from fixtures/servers.yaml, or a list) is "
                             "required")
    backend = item.get("backend")
    if backend is not None and not isinstance(backend, str):
        raise fail("backend", "'backend' must be a queue back end name")
    nemeses = item.get("nemesis") or []
    nemeses = [nemeses] if isinstance(nemeses, str) else nemeses
    if not isinstance(nemeses, list) or any(n not in NEMESES for n in nemeses):
        raise fail("nemesis", f"'nemesis' must be one or a list of {', '.join(NEMESES)}")
    kinds = item.get("kinds")
    if not isinstance(kinds, list) or not kinds or any(k not in FAILURE_KINDS for k in kinds):
        raise fail("kinds", f"'kinds' must list failure kinds ({', '.join(FAILURE_KINDS)})")
    pattern = item.get("match")
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(str(pattern))
        except re.error as exc:
            raise fail("match", f"'match' is not a regular expression: {exc}") from exc
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise fail("reason", "every known defect needs a 'reason'")
    flaky = item.get("flaky", False)
    if not isinstance(flaky, bool):
        raise fail("flaky", "'flaky' must be true or false")
    return KnownDefect(servers=tuple(servers), backend=backend, nemeses=tuple(nemeses),
                       kinds=tuple(kinds), match=compiled, reason=" ".join(reason.split()),
                       flaky=flaky, where=f"{path}:{item.line}")


@dataclass(frozen=True)
class Gate:
    outcome: str                 # PASS, FAIL, XFAIL, XPASS, ERROR
    reasons: tuple[str, ...]     # the baseline reasons that applied
    uncovered: int               # failures no entry explains


def judge_cell(known: list[KnownDefect], *, server: str, backend: str | None, nemesis: str,
               failures: list[dict[str, Any]], error: str = "") -> Gate:
    if error:
        return Gate("ERROR", (), 0)
    entries = [k for k in known if k.covers_cell(server, backend, nemesis)]
    if not failures:
        strict = [k for k in entries if not k.flaky]
        return Gate("XPASS" if strict else "PASS", tuple(k.reason for k in strict), 0)
    used: list[str] = []
    uncovered = 0
    for failure in failures:
        entry = next((k for k in entries if k.covers(failure)), None)
        if entry is None:
            uncovered += 1
        elif entry.reason not in used:
            used.append(entry.reason)
    return Gate("FAIL" if uncovered else "XFAIL", tuple(used), uncovered)
