"""Known divergences: findings explore recognizes by signature and does not report again.

Strategy: fixtures/baselines/explore.yaml lists each known divergence with a
signature pattern (a regex the whole signature must match, ``compare.signature``),
optionally context features the shrunk sequence must show (``when``, each a
regex one feature must match), the implementations it concerns (``servers``:
registry names; the entry applies when all of them take part in the run, so a
difference between two servers names both and a bug one server shows on its
own names that one; or ``any``), what it is known from (``see``: a suite case id, or
``docs/refserver-vs-gearmand.md: <row>``), and a reason. Every citation must
resolve (a test checks them), so a known divergence is always one the suite,
a baseline or the documented differences already state. The file is read
with the shared line-aware loader and errors name ``file:line``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..yaml_positions import PosDict, entry_failure, load_entries, read_entries_file

KNOWN_PATH = paths.BASELINES_DIR / "explore.yaml"
ENTRY_KEYS = {"id", "servers", "signature", "when", "see", "reason"}
ID = re.compile(r"^KD-[A-Z0-9]+-[0-9]{3}$")
CASE_ID = re.compile(r"^GM-[A-Z]+-[0-9]{3}[a-z]?$")
DOC_CITATION = re.compile(r"^(docs/[\w.-]+\.md): (.+)$")


class KnownError(ValueError):
    """explore.yaml cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class KnownDivergence:
    id: str
    servers: tuple[str, ...]
    signature: re.Pattern[str]
    when: tuple[re.Pattern[str], ...]
    see: tuple[str, ...]
    reason: str
    line: int = 0

    def applies(self, signature: str, features: list[str] | None, servers: list[str]) -> bool:
        if "any" not in self.servers and not set(self.servers) <= set(servers):
            return False
        if not self.signature.fullmatch(signature):
            return False
        if self.when and features is None:
            return False
        return all(any(w.fullmatch(f) for f in features or []) for w in self.when)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "servers": list(self.servers), "see": list(self.see),
                "reason": self.reason}


def _entry(path: Path, item: object, line: int) -> KnownDivergence:
    fail = entry_failure(path, item, line, KnownError)

    if not isinstance(item, PosDict):
        raise fail(None, "each known divergence is a mapping with id, servers, signature, "
                         "see and reason")
    unknown = sorted(set(item) - ENTRY_KEYS, key=str)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r} (an entry has {sorted(ENTRY_KEYS)})")
    for key in ("id", "servers", "signature", "see", "reason"):
        if key not in item:
            raise fail(None, f"missing key {key!r}")
    ident = item["id"]
    if not isinstance(ident, str) or not ID.match(ident):
        raise fail("id", f"'id' must look like KD-GEARMAND-001, got {ident!r}")
    servers = item["servers"]
    if not isinstance(servers, list) or not servers or not all(isinstance(s, str)
                                                                for s in servers):
        raise fail("servers", f"{ident}: 'servers' is a list of registry names (or [any])")
    patterns = []
    for key in ("signature",):
        try:
            patterns.append(re.compile(str(item[key])))
        except re.error as exc:
            raise fail(key, f"{ident}: 'signature' is not a valid regex: {exc}") from None
    when = item.get("when") or []
    if not isinstance(when, list):
        raise fail("when", f"{ident}: 'when' is a list of feature regexes")
    try:
        when_patterns = tuple(re.compile(str(w)) for w in when)
    except re.error as exc:
        raise fail("when", f"{ident}: a 'when' entry is not a valid regex: {exc}") from None
    see = item["see"]
    see = [see] if isinstance(see, str) else see
    if not isinstance(see, list) or not see:
        raise fail("see", f"{ident}: 'see' names a suite case (GM-...) or a docs row")
    for cite in see:
        if not isinstance(cite, str) or not (CASE_ID.match(cite) or DOC_CITATION.match(cite)):
            raise fail("see", f"{ident}: citation {cite!r} is neither a case id (GM-AREA-NNN) "
                              "nor 'docs/FILE.md: row text'")
    reason = item["reason"]
    if not isinstance(reason, str) or len(reason.split()) < 4:
        raise fail("reason", f"{ident}: 'reason' must say why (a sentence)")
    return KnownDivergence(ident, tuple(servers), patterns[0], when_patterns, tuple(see),
                           " ".join(reason.split()), item.line)


def parse_known(text: str, path: Path | str) -> list[KnownDivergence]:
    path = Path(path)
    out: list[KnownDivergence] = []
    seen: dict[str, int] = {}
    for item, line in load_entries(text, path, "known_divergences", KnownError):
        entry = _entry(path, item, line)
        if entry.id in seen:
            raise KnownError(f"{path}:{line}: id {entry.id} is used twice (first at line "
                             f"{seen[entry.id]})")
        seen[entry.id] = line
        out.append(entry)
    return out


def load_known(path: Path | str | None = None) -> list[KnownDivergence]:
    path = Path(path) if path else KNOWN_PATH
    text = read_entries_file(path, "known divergences", KnownError)
    return parse_known(text, path)


def recognize(known: list[KnownDivergence], signature: str, features: list[str] | None,
              servers: list[str]) -> KnownDivergence | None:
    """The first entry that explains this finding (``features`` None: not shrunk yet)."""
    for entry in known:
        if entry.applies(signature, features, servers):
            return entry
    return None
