# ruff: noqa: E501  (scenario YAML inside strings reads best on one line per step)
"""The clean-up after a case, against the real gearmand 1.1.20 and the reference server:
nothing of the case stays listed, nothing of another case is touched, verdicts stay."""

from __future__ import annotations

import threading
import time

import pytest

from gearcheck.engine.cleanup import CleanupAbilities, clean_up, nameable, owned
from gearcheck.engine.probe import probe_server
from gearcheck.engine.timing import Timing
from gearcheck.engine.touched import ServerTouch, Touched
from gearcheck.protocol import AdminLine, Packet, PacketType, encode, encode_raw
from gearcheck.results import Verdict
from gearcheck.targets import free_port
from gearcheck.wire import Address, Connection

from .conftest import summary

T = PacketType


@pytest.fixture(params=["gearmand", "refserver"])
def server(request):  # type: ignore[no-untyped-def]
    """Each test against both servers (started once per session)."""
    if request.param == "gearmand":
        return request.getfixturevalue("gearmand_address")
    return request.getfixturevalue("refserver").address


def listed(address: Address, prefix: str) -> dict[str, list[int]]:
    """The server's status rows whose function starts with ``prefix``."""
    with Connection.open(address, timeout=5) as conn:
        rows = conn.admin("status")[:-1]
    out = {}
    for row in rows:
        name, *counts = row.decode("utf-8", "replace").split("\t")
        if name.startswith(prefix):
            out[name] = [int(c) for c in counts]
    return out


def known_jobs(address: Address, handles: list[bytes]) -> list[bytes]:
    with Connection.open(address, timeout=5) as conn:
        return [h for h in handles
                if conn.request(Packet.build(T.GET_STATUS, h), T.STATUS_RES).args[1] == b"1"]


def namespace_of(result) -> str:  # type: ignore[no-untyped-def]
    """The case's own function names start with this (``gc.RUN.CASE``)."""
    for entry in result.transcript:
        name = (entry.summary.get("args") or {}).get("function", "")
        if name.startswith("gc."):
            return ".".join(name.split(".")[:3])
    raise AssertionError("the case sent no function name")


def job_handles(result) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [e.summary["args"]["handle"].encode() for e in result.transcript
            if e.direction == "recv" and e.summary.get("type") == "JOB_CREATED"]


def test_ownership_is_the_case_and_what_follows_it_but_never_another_case() -> None:
    names = [b"gc.r.GM-A-001", b"gc.r.GM-A-001.x", b"gc.r.GM-A-001-long", b"gc.r.GM-A-001\0t",
             b"gc.r.GM-A-001a", b"gc.r.GM-A-0010", b"gc.r.GM-A-00", b"", b"other"]
    assert owned(names, b"gc.r.GM-A-001") == [b"gc.r.GM-A-001", b"gc.r.GM-A-001\0t",
                                              b"gc.r.GM-A-001-long", b"gc.r.GM-A-001.x"]
    assert owned(names, b"gc.r.GM-A-001a") == [b"gc.r.GM-A-001a"]
    assert nameable(b"x\0nul") and not nameable(b"a b") and not nameable(b"") \
        and not nameable(b"x\r\n")


def test_a_tap_reads_what_was_sent_however_it_was_written() -> None:
    touched = Touched()
    tap = touched.tap("127.0.0.1:1")
    submit = Packet.build(T.SUBMIT_JOB_EPOCH, "f.epoch", "", "99", "d")
    tap("send", submit, encode(submit))                        # a built packet
    raw = encode(Packet.build(T.CAN_DO, "f.raw")) + encode(Packet.build(T.SUBMIT_JOB_BG, "f.bg", "", ""))
    tap("send", None, raw[:5])                                 # raw bytes, split anywhere
    tap("send", {"chunk": "2/2"}, raw[5:])
    line = b"create function f.created\r\nmaxqueue f.limited 3\r\ndrop function f.dropped\n"
    tap("send", AdminLine(line), line)                         # pipelined admin lines
    reducer = Packet.build(T.SUBMIT_REDUCE_JOB, "f.map", "", "f.reduce", "", "d")
    tap("send", reducer, encode(reducer))
    tap("recv", Packet.build(T.JOB_CREATED, "H:x:1", magic=None), b"")
    touch = touched.servers["127.0.0.1:1"]
    assert touch.functions == {b"f.epoch", b"f.raw", b"f.bg", b"f.created", b"f.limited",
                               b"f.dropped", b"f.map", b"f.reduce"}
    assert touch.submitted == {b"f.epoch", b"f.bg", b"f.map"}
    assert touch.deferred and touch.handles == [b"H:x:1"]
    tap("send", None, encode_raw(b"\0XYZ", 1, b"garbage"))      # framing lost: reading stops
    tap("send", None, encode(Packet.build(T.CAN_DO, "f.after")))
    assert b"f.after" not in touch.functions


def test_nothing_of_a_case_stays_listed(run_yaml, server) -> None:  # type: ignore[no-untyped-def]
    """Workers, queued background jobs of every priority, a foreground job whose client left,
    jobs a worker held when it went away, a job due in an hour and an admin-made function."""
    result = run_yaml("""actors: [client, worker, admin]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn:held}"}}
  - send: {on: client, packet: SUBMIT_JOB_HIGH_BG, args: {function: "${fn}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - send: {on: client, packet: SUBMIT_JOB_LOW_BG, args: {function: "${fn}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - send: {on: client, packet: SUBMIT_JOB, args: {function: "${fn:fg}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - send: {on: client, packet: SUBMIT_JOB_EPOCH, args: {function: "${fn:later}", unique: "", epoch: "${epoch:+3600}", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn:held}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - send: {on: worker, packet: GRAB_JOB}
  - expect: {on: worker, packet: JOB_ASSIGN}
  - admin: {on: admin, command: "create function ${fn:made}", eol: "\\r\\n", reply: {line: OK}}
""", server)
    assert result.verdict is Verdict.PASS, summary(result)
    assert listed(server, namespace_of(result)) == {}
    [done] = result.evidence["cleanup"]
    assert done["server"] == str(server) and "left" not in done and "error" not in done
    assert (done["dropped"], done["drained"], done["cancelled"]) == (5, 3, 1), done
    handles = job_handles(result)
    assert len(handles) == 5
    assert known_jobs(server, handles[:3] + handles[4:]) == []  # the epoch job: cancelled


def test_the_clean_up_takes_nothing_of_a_case_running_beside_it(run_yaml, server) -> None:  # type: ignore[no-untyped-def]
    """A case that queues a job and takes it later runs while other cases submit, register
    and clean up on the same server: it still gets its job (a clean-up only ever registers
    and drops the names of its own case)."""
    outcome: dict[str, object] = {}

    def slow() -> None:
        outcome["slow"] = run_yaml("""actors: [client, worker]
steps:
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn}", unique: "", data: mine}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - sleep: 0.4
  - send: {on: worker, packets: [{packet: CAN_DO, args: {function: "${fn}"}}, {packet: GRAB_JOB}]}
  - expect: {on: worker, packet: JOB_ASSIGN, args: {handle: "${h}", data: mine}}
  - send: {on: worker, packet: WORK_COMPLETE, args: ["${h}", ""]}
""", server)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.1)
    for _ in range(3):  # quick cases that submit, register and clean up meanwhile
        quick = run_yaml("""actors: [client, worker]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn}"}}
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
""", server)
        assert quick.verdict is Verdict.PASS, summary(quick)
        assert quick.evidence["cleanup"][0]["dropped"] == 1
    thread.join(10)
    result = outcome["slow"]
    assert result.verdict is Verdict.PASS, summary(result)  # type: ignore[attr-defined]


def test_the_cases_own_cleanup_steps_run_after_a_failure_and_leave_the_verdict(run_yaml, server) -> None:  # type: ignore[no-untyped-def]
    """A FAIL stays a FAIL with its own message; the clean-up steps run anyway (here they
    forget a function outside the case's names), and a failing clean-up step is evidence."""
    name = f"gc.outside-{free_port()}"
    result = run_yaml(f"""actors: [admin]
steps:
  - admin: {{on: admin, command: "create function {name}", eol: "\\r\\n", reply: {{line: OK}}}}
  - send: {{on: admin, line: version}}
  - expect: {{on: admin, line: "not the version"}}
cleanup:
  - admin: {{on: admin, command: "drop function {name}", eol: "\\r\\n", reply: {{line: OK}}}}
  - admin: {{on: admin, command: "drop function {name}", eol: "\\r\\n", reply: {{line: OK}}}}
""", server)
    assert result.verdict is Verdict.FAIL, summary(result)
    assert "not the version" in str(result.expected)
    assert listed(server, name) == {}
    failed = result.evidence["cleanup_steps"]
    assert failed["step"] == "cleanup[1].admin" and "drop function" in failed["message"], failed


def test_a_clean_up_that_cannot_reach_the_server_is_evidence_not_an_error() -> None:
    touch = ServerTouch(functions={b"gc.r.GM-A-001"})
    done = clean_up(Address("127.0.0.1", free_port()), touch, namespace="gc.r.GM-A-001",
                    abilities=CleanupAbilities(), timing=Timing(default_timeout_s=0.2))
    assert done is not None and done.error and "cannot connect" in done.error
    assert clean_up(Address("127.0.0.1", 1), ServerTouch(functions={b"other"}),
                    namespace="gc.r.GM-A-001", abilities=CleanupAbilities(),
                    timing=Timing()) is None  # nothing of its own: no connection at all


def test_the_probe_leaves_nothing(server) -> None:  # type: ignore[no-untyped-def]
    probe_server(server, "tprobeclean")
    assert listed(server, "gc.tprobeclean.") == {}
