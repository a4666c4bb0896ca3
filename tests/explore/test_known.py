"""fixtures/baselines/explore.yaml: it loads, every citation resolves, bad files say file:line.

A known divergence is only as good as what it cites, so each suite case id it
names must exist in conformance/ and each docs row must be a row of
docs/refserver-vs-gearmand.md. Matching: an entry applies only when every
implementation it names takes part, and its ``when`` features must all show.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gearcheck import paths
from gearcheck.engine.loader import find_files, load_file
from gearcheck.explore.known import (
    DOC_CITATION,
    KNOWN_PATH,
    KnownError,
    load_known,
    parse_known,
    recognize,
)

ROOT = Path(__file__).resolve().parents[2]


def _suite_ids() -> set[str]:
    ids: set[str] = set()
    for path in find_files([paths.SUITE_DIR]):
        scenarios, errors = load_file(path)
        assert not errors, errors
        ids |= {s.id for s in scenarios}
    return ids


def test_every_known_divergence_cites_a_suite_case_or_a_docs_row() -> None:
    known = load_known()
    assert len(known) >= 20
    suite = _suite_ids()
    for entry in known:
        for cite in entry.see:
            doc = DOC_CITATION.match(cite)
            if doc is None:
                assert cite in suite, f"{entry.id} cites {cite}, which is not in conformance/"
                continue
            rows = (ROOT / doc.group(1)).read_text().splitlines()
            assert any(r.startswith(f"| {doc.group(2)} |") for r in rows), \
                f"{entry.id} cites a row {doc.group(2)!r} that {doc.group(1)} does not have"


def test_the_shipped_file_is_the_one_in_fixtures() -> None:
    assert KNOWN_PATH.resolve() == (ROOT / "fixtures/baselines/explore.yaml").resolve()


def test_an_entry_applies_only_when_all_its_servers_take_part_and_its_features_show() -> None:
    known = parse_known("""
known_divergences:
  - id: KD-TEST-001
    servers: [refserver, gearmand-1.1.20]
    signature: 'admin cancel job -> .*'
    when: ['admin cancel job', 'functions:[12]']
    see: [GM-ADMIN-017]
    reason: a reason of enough words
""", "t.yaml")
    sig = "admin cancel job -> admin: admin cancel job: gearmand-1.1.20=OK refserver=ERR"
    both = ["gearmand-1.1.20", "refserver"]
    assert recognize(known, sig, ["admin cancel job", "functions:1"], both) is known[0]
    assert recognize(known, sig, ["admin cancel job", "functions:1"], ["gearmand-1.1.20"]) \
        is None
    assert recognize(known, sig, ["functions:1"], both) is None
    assert recognize(known, sig, None, both) is None  # needs the shrunk context first
    assert recognize(known, "GRAB_JOB -> worker: x", ["admin cancel job", "functions:1"],
                     both) is None


@pytest.mark.parametrize(("text", "where", "words"), [
    ("known_divergences:\n  - id: KD-X-001\n    servers: [a]\n    signature: '('\n"
     "    see: [GM-ADMIN-017]\n    reason: four words right here\n", ":4:", "not a valid regex"),
    ("known_divergences:\n  - id: bad\n    servers: [a]\n    signature: x\n"
     "    see: [GM-ADMIN-017]\n    reason: four words right here\n", ":2:", "KD-GEARMAND-001"),
    ("known_divergences:\n  - id: KD-X-001\n", ":2:", "missing key 'servers'"),
    ("known_divergences:\n  - id: KD-X-001\n    servers: [a]\n    signature: x\n"
     "    see: [nothing]\n    reason: four words right here\n", ":5:", "neither a case id"),
    ("known_divergences:\n  - id: KD-X-001\n    servers: [a]\n    signature: x\n"
     "    see: [GM-A-001]\n    reason: four words right here\n    colour: red\n", ":7:",
     "unknown key"),
    ("known_divergences: {}\n", ":1:", "known_divergences"),
    ("known_divergences: [\n", ":2:", "not valid YAML"),
])
def test_a_bad_file_is_one_clear_line_with_file_and_line(text: str, where: str,
                                                          words: str) -> None:
    with pytest.raises(KnownError) as info:
        parse_known(text, "bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml") and where in message and words in message, message
    assert "\n" not in message
