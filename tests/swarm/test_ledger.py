"""The invariant ledger on its own: lost, duplicated, coalesced, still queued."""

from __future__ import annotations

from gearcheck.swarm.collector import Aggregate, Measurements
from gearcheck.swarm.jobids import make_payload, parse_job_id


def _exchange(m: Measurements, agg: Aggregate) -> None:
    agg.merge(m.export(), "p1")


def test_every_background_job_once_is_clean() -> None:
    client, worker, agg = Measurements(), Measurements(), Aggregate()
    for i in range(5):
        client.ledger.created_bg.append((b"H:x:%d" % i, b"o:%d" % i))
        worker.ledger.executed.append((b"H:x:%d" % i, b"o:%d" % i, True))
    _exchange(client, agg)
    _exchange(worker, agg)
    v = agg.ledger.verdict()
    assert v["background"]["executed_once"] == 5
    assert v["lost"] == 0 and v["duplicated"] == 0


def test_missing_execution_is_lost_unless_still_queued() -> None:
    client, worker, agg = Measurements(), Measurements(), Aggregate()
    for i in range(4):
        client.ledger.created_bg.append((b"H:x:%d" % i, b"o:%d" % i))
    worker.ledger.executed.append((b"H:x:0", b"o:0", True))
    worker.ledger.executed.append((b"H:x:0", b"o:0", True))  # a second execution
    _exchange(client, agg)
    _exchange(worker, agg)
    assert agg.ledger.verdict()["background"]["lost"] == 3
    assert agg.ledger.verdict()["background"]["duplicated"] == 1
    v = agg.ledger.verdict(queued_at_end=2)
    assert v["background"]["lost"] == 1 and v["background"]["still_queued_on_server"] == 2


def test_coalesced_submissions_share_one_execution() -> None:
    client, worker, agg = Measurements(), Measurements(), Aggregate()
    for i in range(3):
        client.ledger.created_bg.append((b"H:x:9", b"o:%d" % i))
    worker.ledger.executed.append((b"H:x:9", b"o:0", True))
    _exchange(client, agg)
    _exchange(worker, agg)
    bg = agg.ledger.verdict()["background"]
    assert (bg["submissions"], bg["jobs"], bg["coalesced_submissions"]) == (3, 1, 2)
    assert bg["lost"] == 0 and bg["mismatched_job_id"] == 0


def test_foreground_counts_travel_as_counters() -> None:
    m, agg = Measurements(), Aggregate()
    m.ledger.counts.update(fg_submitted=10, fg_results=8, fg_pending_at_end=1, fg_timed_out=1,
                           fg_duplicate_results=2)
    agg.merge(m.export())
    v = agg.ledger.verdict()
    assert v["foreground"]["lost"] == 2 and v["duplicated"] == 2


def test_job_id_round_trip_and_foreign_payloads() -> None:
    payload = make_payload(b"abc1", 42, True, 300, b"xyz")
    assert len(payload) == 300
    assert parse_job_id(payload) == (b"abc1:42", True)
    assert parse_job_id(make_payload(b"o", 7, False, 0, b"-")) == (b"o:7", False)
    assert parse_job_id(b"hello world") is None
    assert parse_job_id(b"gcj:broken") is None
