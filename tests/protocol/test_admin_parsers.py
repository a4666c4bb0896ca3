"""Admin reply framing and parsers, on gearmand's real reply shapes."""

from __future__ import annotations

import pytest

from gearcheck.protocol import (
    AdminError,
    AdminReplyCollector,
    AdminReplyError,
    parse_getpid,
    parse_maxqueue,
    parse_priority_status,
    parse_show_jobs,
    parse_show_unique_jobs,
    parse_status,
    parse_verbose,
    parse_version,
    parse_workers,
    reply_is_list,
)


@pytest.mark.parametrize("command,is_list", [
    ("status", True), ("STATUS extra", True), ("workers", True), ("prioritystatus", True),
    ("show jobs", True), ("show unique jobs", True), ("version", False), ("getpid", False),
    ("maxqueue f 3", False), ("cancel job H:x:1", False), ("show", False),
    ("create function f", False), ("show bogus", False),
])
def test_reply_kind_follows_the_command(command: str, is_list: bool) -> None:
    assert reply_is_list(command) is is_list


def test_collector_stops_at_dot_or_at_an_error_line() -> None:
    c = AdminReplyCollector("status")
    assert not c.feed_line(b"f\t1\t0\t1")
    assert c.feed_line(b".")
    assert c.rows == [b"f\t1\t0\t1"]
    e = AdminReplyCollector("show jobs")
    assert e.feed_line(b"ERR UNKNOWN_SHOW_ARGUMENTS")
    one = AdminReplyCollector("version")
    assert one.feed_line(b"OK 1.1.20+ds")


def test_status_and_prioritystatus() -> None:
    s = parse_status([b"reverse\t3\t1\t2", b"\t0\t0\t0", b"."])
    assert s["reverse"].total == 3 and s["reverse"].running == 1 and s["reverse"].workers == 2
    assert "" in s
    p = parse_priority_status(["f\t1\t2\t3\t4", "."])
    assert (p["f"].high, p["f"].normal, p["f"].low, p["f"].workers) == (1, 2, 3, 4)


def test_status_errors_name_the_row_and_column() -> None:
    with pytest.raises(AdminReplyError, match="column running"):
        parse_status([b"f\t1\tx\t1", b"."])
    with pytest.raises(AdminReplyError, match="expected 4"):
        parse_status([b"f\t1\t1", b"."])
    with pytest.raises(AdminReplyError, match="does not end"):
        parse_status([b"f\t1\t1\t1"])
    with pytest.raises(AdminReplyError, match="error"):
        parse_status([b"ERR UNKNOWN_COMMAND x"])


def test_workers_rows() -> None:
    w = parse_workers([b"37 127.0.0.1 - :", b"40 127.0.0.1 worker 1 : b a", b"."])
    assert w[0].client_id == "-" and w[0].functions == ()
    assert w[1].client_id == "worker 1" and w[1].functions == ("b", "a")
    with pytest.raises(AdminReplyError, match="no ' :' separator"):
        parse_workers([b"garbage", b"."])


def test_jobs_and_unique_jobs() -> None:
    jobs = parse_show_jobs([b"H:vm:15\t1\t0\t1", b"."])
    assert jobs[0].handle == "H:vm:15" and jobs[0].retries == 1 and jobs[0].queued
    assert not jobs[0].ignored
    assert parse_show_unique_jobs([b"u1", b"", b"."]) == ["u1", ""]


def test_one_line_replies() -> None:
    assert parse_version([b"OK 1.1.20+ds"]) == "1.1.20+ds"
    assert parse_version([b"v1.130.1"]) == "v1.130.1"
    assert parse_getpid([b"OK 1234"]) == 1234
    assert parse_verbose([b"OK INFO"]) == "INFO"
    parse_maxqueue([b"OK"])
    with pytest.raises(AdminReplyError):
        parse_getpid([b"OK abc"])
    with pytest.raises(AdminReplyError):
        parse_verbose([b"OK LOUD"])
    with pytest.raises(AdminReplyError):
        parse_maxqueue([b"ERR INVALID_ARGUMENTS x"])


def test_admin_error_text_is_url_decoded() -> None:
    err = AdminError.parse(
        b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue")
    assert err == AdminError("INVALID_ARGUMENTS",
                             "An incomplete set of arguments was sent to this command maxqueue")
    assert AdminError.parse(b"OK") is None
