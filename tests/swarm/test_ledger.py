"""The invariant ledger on its own: each anomaly is named once, with its count."""

from __future__ import annotations

from gearcheck.swarm.collector import Aggregate, Measurements
from gearcheck.swarm.jobids import make_payload, parse_job_id
from gearcheck.swarm.ledger import STOPPED, UNANSWERED


def _acks(m: Measurements, origin: bytes, handles: list[bytes], first: int = 0,
          background: bool = True) -> None:
    book = m.ledger.book(origin, coalescing=False)
    book.handles.extend(handles)
    book.runs.append([first, len(handles), background])


def _run(m: Measurements, handle: bytes, job: bytes, background: bool = True) -> None:
    m.ledger.executed.append((handle, job, background))


def _verdict(*parts: Measurements, queued_at_end: int = 0) -> dict:  # type: ignore[type-arg]
    agg = Aggregate()
    for i, m in enumerate(parts):
        agg.merge(m.export(), f"p{i}")
    return agg.ledger.verdict(queued_at_end)


def test_every_background_job_once_is_clean() -> None:
    client, worker = Measurements(), Measurements()
    _acks(client, b"o", [b"H:%d" % i for i in range(5)])
    for i in range(5):
        _run(worker, b"H:%d" % i, b"o:%d" % i)
    v = _verdict(client, worker)
    assert v["background"]["executed_once"] == 5
    assert v["defects"] == {} and v["lost"] == 0 and v["duplicated"] == 0


def test_missing_execution_is_lost_unless_still_queued() -> None:
    client, worker = Measurements(), Measurements()
    _acks(client, b"o", [b"H:%d" % i for i in range(4)])
    _run(worker, b"H:0", b"o:0")
    _run(worker, b"H:0", b"o:0")  # a second execution
    v = _verdict(client, worker)
    assert v["background"]["lost"] == 3 and v["background"]["duplicated"] == 1
    assert v["defects"] == {"lost": 3, "duplicated": 1}
    client, worker = Measurements(), Measurements()
    _acks(client, b"o", [b"H:%d" % i for i in range(4)])
    _run(worker, b"H:0", b"o:0")
    v = _verdict(client, worker, queued_at_end=2)
    assert v["background"]["lost"] == 1 and v["background"]["still_queued_on_server"] == 2


def test_coalesced_submissions_share_one_execution() -> None:
    client, worker = Measurements(), Measurements()
    book = client.ledger.book(b"o", coalescing=True)
    book.handles.extend([b"H:9"] * 3)
    book.runs.append([0, 3, True])
    _run(worker, b"H:9", b"o:0")
    bg = _verdict(client, worker)["background"]
    assert (bg["acknowledged"], bg["jobs"], bg["coalesced_submissions"]) == (3, 1, 2)
    assert bg["lost"] == 0


def test_a_missing_acknowledgement_shifts_nothing() -> None:
    # JOB_CREATED for seq 2 never came: the client matched H:3 to seq 2 and so on,
    # and seq 5 was left waiting when the run ended.
    client, worker = Measurements(), Measurements()
    _acks(client, b"o", [b"H:0", b"H:1", b"H:3", b"H:4", b"H:5"])
    client.ledger.counts["unacked_bg_" + UNANSWERED] += 1
    for i in range(6):
        _run(worker, b"H:%d" % i, b"o:%d" % i)
    v = _verdict(client, worker)
    assert v["defects"] == {"never_created": 1}
    assert v["background"]["executed_without_acknowledgement"] == 1


def test_acknowledgements_out_of_order_are_counted_once_per_swap() -> None:
    client, worker = Measurements(), Measurements()
    _acks(client, b"o", [b"H:0", b"H:2", b"H:1", b"H:3", b"H:5", b"H:4", b"H:6"])
    for i in range(7):
        _run(worker, b"H:%d" % i, b"o:%d" % i)
    assert _verdict(client, worker)["defects"] == {"job_created_out_of_order": 2}


def test_foreground_given_up_lost_only_when_executed_or_acknowledged() -> None:
    client, worker = Measurements(), Measurements()
    # seqs 1 and 2 unanswered at the end: 1 ran (its result was lost), 2 never ran and
    # was never acknowledged either (never created, not lost); 7 was abandoned by a
    # stopped user before it ran, 8 after it ran.
    client.ledger.gave_up += [[UNANSWERED, b"o", [1, 2]], [STOPPED, b"o", [7, 8]]]
    client.ledger.counts["unacked_fg_" + UNANSWERED] += 1
    _run(worker, b"H:1", b"o:1", background=False)
    _run(worker, b"H:8", b"o:8", background=False)
    v = _verdict(client, worker)
    fg = v["foreground"]
    assert fg["lost"] == 1 and fg["lost_after_execution"] == 1
    assert fg["abandoned_by_stopped_users"] == 1 and fg["abandoned_after_execution"] == 1
    assert v["defects"] == {"lost": 1, "never_created": 1}


def test_job_id_round_trip_and_foreign_payloads() -> None:
    payload = make_payload(b"abc1", 42, True, 300, b"xyz")
    assert len(payload) == 300
    assert parse_job_id(payload) == (b"abc1:42", True)
    assert parse_job_id(make_payload(b"o", 7, False, 0, b"-")) == (b"o:7", False)
    assert parse_job_id(b"hello world") is None
    assert parse_job_id(b"gcj:broken") is None
