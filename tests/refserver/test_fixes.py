"""Regression tests for reference-server bugs the conformance suite found.

One test per fix, named after the suite case that caught it; each runs on both
servers where gearmand agrees, so the fix is checked against the real thing.
"""

from __future__ import annotations

from gearcheck.protocol import PacketType

T = PacketType


def test_dash_unique_with_empty_workload_never_coalesces(kit) -> None:
    """GM-UNIQ-006a: ``-`` coalesces on identical non-empty workloads only."""
    f = kit.fn()
    c = kit.conn()
    first = kit.submit(c, f, b"", b"-", T.SUBMIT_JOB_BG)
    second = kit.submit(c, f, b"", b"-", T.SUBMIT_JOB_BG)
    assert first != second
    fg = kit.submit(c, f, b"", b"-")                       # foreground too
    assert fg not in (first, second)
    assert kit.submit(c, f, b"w", b"-", T.SUBMIT_JOB_BG) == kit.submit(c, f, b"w", b"-",
                                                                       T.SUBMIT_JOB_BG)
