"""From a trace with known figures to a profile and a case, and the commands' bad input.

The trace is built with the codec and the recorder at chosen times (no
server): 80 submissions over 4 s, 10/s then 30/s; function ``a`` in the
foreground with 100-byte payloads served by two workers in 1 or 3 ms, ``b``
in the background at low priority with 50- or 500-byte payloads and a pool
of four unique ids; an epoch job; an admin ``status``. The derived profile
must say exactly that, and the case must capture handles and use the run's
own names. Every command names what is wrong with its input and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gearcheck.cli import main as gearcheck_main
from gearcheck.commands.replay_case import check as case_loads
from gearcheck.protocol import Packet, encode
from gearcheck.protocol.capture import Direction
from gearcheck.record.case import CaseError, build_case, parse_connections
from gearcheck.record.derive import derive_profile
from gearcheck.record.jobs import analyse
from gearcheck.record.trace import TraceRecorder, TraceWriter, header, read_trace

START = 1_800_000_000.0
UP, DOWN = Direction.TO_SERVER, Direction.TO_CLIENT


def _write(path: Path) -> Path:
    writer = TraceWriter(path, header("test", START))
    rec = TraceRecorder(writer.write, START)

    def send(conn: int, direction: Direction, t: float, *packets: Packet) -> None:
        rec.data(conn, direction, START + t, b"".join(encode(p) for p in packets))

    client = rec.open(START, "127.0.0.1:1001", "127.0.0.1:4730")
    w1 = rec.open(START, "127.0.0.1:1002", "127.0.0.1:4730")
    w2 = rec.open(START + 0.1, "127.0.0.1:1003", "127.0.0.1:4730")
    admin = rec.open(START + 0.2, "127.0.0.1:1004", "127.0.0.1:4730")
    send(w1, UP, 0.0, Packet.build("CAN_DO", "a"), Packet.build("CAN_DO", "b"))
    send(w2, UP, 0.1, Packet.build("CAN_DO", "a"))
    times = [i / 10 for i in range(20)] + [2 + i / 30 for i in range(60)]
    for n, t in enumerate(times):
        handle = f"H:test:{n + 1}"
        if n % 4 == 3:  # b: background, low, 50 or 500 bytes, a pool of uniques
            packet = Packet.build("SUBMIT_JOB_LOW_BG", "b", f"key-{n % 16 // 4}",
                                  b"q" * (500 if n % 16 == 15 else 50))
        else:
            packet = Packet.build("SUBMIT_JOB", "a", "", b"p" * 100)
        send(client, UP, t, packet)
        send(client, DOWN, t + 0.001, Packet.build("JOB_CREATED", handle))
        worker = w1 if n % 2 else w2
        if packet.arg("function") == b"b":
            worker = w1
        send(worker, DOWN, t + 0.002, Packet.build("JOB_ASSIGN", handle, packet.arg("function"),
                                                   packet.arg("data")))
        service = 0.001 if n % 2 else 0.003
        send(worker, UP, t + 0.002 + service, Packet.build("WORK_COMPLETE", handle, b"r" * 20))
        if packet.arg("function") == b"a":
            send(client, DOWN, t + 0.003 + service, Packet.build("WORK_COMPLETE", handle,
                                                                 b"r" * 20))
    send(client, UP, 4.1, Packet.build("SUBMIT_JOB_EPOCH", "a", "", int(START + 4.1 + 60), "e"))
    send(client, DOWN, 4.101, Packet.build("JOB_CREATED", "H:test:99"))
    send(admin, UP, 4.2, Packet.build("ECHO_REQ", "x"))
    send(admin, DOWN, 4.201, Packet.build("ECHO_RES", "x"))
    rec.data(admin, UP, START + 4.3, b"status\n")
    rec.data(admin, DOWN, START + 4.301, b"a\t1\t0\t2\nother\t5\t0\t0\nb\t0\t0\t1\n.\n")
    rec.eof(admin, UP, START + 4.4)
    rec.close_all(START + 5)
    writer.close()
    return path


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return _write(tmp_path / "trace.jsonl")


def test_the_profile_says_what_the_trace_did(trace: Path) -> None:
    work = analyse(read_trace(trace))
    profile = derive_profile(work)
    # 81 submissions (the epoch job too): 10/s for 2 s, then ~30/s.
    stages = profile["stages"]
    assert [s["rate"] for s in stages][:2] == [10.0, pytest.approx(30, rel=0.02)]
    total = sum(s["rate"] * float(s["duration"].rstrip("s")) for s in stages)
    assert total == pytest.approx(81, abs=1e-3)
    mixes = {m["name"]: m for m in profile["clients"]}
    assert set(mixes) == {"a-fg-normal", "b-bg-low", "a-bg-normal"}
    a, b = mixes["a-fg-normal"], mixes["b-bg-low"]
    assert a["arrival"]["share"] == pytest.approx(60 / 81, abs=1e-6)
    assert a["payload_bytes"] == 100 and a["unique"] == {"policy": "none"}
    assert b["payload_bytes"] == {"dist": "choice", "values": {"50": 15, "500": 5}}
    assert b["unique"] == {"policy": "pool", "pool_size": 4}
    assert b["background"] == 1.0 and b["priorities"] == {"low": 1}
    workers = {w["functions"][0]: w for w in profile["workers"]}
    assert workers["a"]["count"] == 2 and workers["b"]["count"] == 1
    assert workers["a"]["service_time"] == {"dist": "choice",
                                            "values": {"1000us": 20, "3000us": 40}}
    assert workers["a"]["result_bytes"] == 20
    recorded = profile["recorded"]
    assert recorded["submissions"] == 81
    assert recorded["functions"] == {"a": pytest.approx(61 / 81, abs=1e-5),
                                     "b": pytest.approx(20 / 81, abs=1e-5)}
    assert recorded["priorities"]["low"] == pytest.approx(20 / 81, abs=1e-5)
    assert recorded["worker_connections"] == 2 and recorded["client_connections"] == 1


def test_the_case_captures_handles_and_uses_the_runs_own_names(trace: Path) -> None:
    case = build_case(read_trace(trace), [1, 3, 4])
    steps: list[dict[str, Any]] = case["steps"]
    sends = [s["send"] for s in steps if "send" in s]
    expects = [s["expect"] for s in steps if "expect" in s]
    assert sends[0] == {"on": "worker3", "packet": "CAN_DO", "args": {"function": "${fn:a}"}}
    created = [e for e in expects if e["packet"] == "JOB_CREATED"]
    assert created[0]["args"] == {"handle": {"capture": "h1"}}
    assign = next(e for e in expects if e["packet"] == "JOB_ASSIGN")
    assert assign["on"] == "worker3" and assign["args"]["handle"] == "${h1}"
    completes = [s for s in sends if s["packet"] == "WORK_COMPLETE"]
    assert completes[0]["args"] == {"handle": "${h1}", "data": "r" * 20}
    uniques = {s["args"]["unique"] for s in sends if s["packet"] == "SUBMIT_JOB_LOW_BG"}
    assert uniques == {"${uniq:u1}", "${uniq:u2}", "${uniq:u3}", "${uniq:u4}"}
    epoch = next(s for s in sends if s["packet"] == "SUBMIT_JOB_EPOCH")
    assert epoch["args"]["epoch"] == "${epoch:+60}"
    admin = next(s["admin"] for s in steps if "admin" in s)
    assert admin["command"] == "status"
    assert admin["reply"]["rows_any_order"] == [["${fn:a}", "1", "0", "2"],
                                                ["${fn:b}", "0", "0", "1"]]
    assert {"close": "admin4"} in steps
    assert case_loads(_dump(case)) == []


def _dump(case: dict[str, Any]) -> str:
    from gearcheck.commands.replay_case import render

    return render(case, "t.jsonl")


def test_connections_are_chosen_by_number_and_range() -> None:
    assert parse_connections("1,3-4", [1, 2, 3, 4]) == [1, 3, 4]
    with pytest.raises(CaseError, match=r"no connection \[7\] \(it has 1-4\)"):
        parse_connections("7", [1, 2, 3, 4])
    with pytest.raises(CaseError, match="is not a number or a range"):
        parse_connections("one", [1])


def test_commands_name_their_bad_input(tmp_path: Path, trace: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    def fails(argv: list[str], message: str) -> None:
        assert gearcheck_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, err
        assert "Traceback" not in err

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"gearcheck_trace": 1}\n{"t": 0}\n')
    fails(["replay-profile", str(bad), "-o", str(tmp_path / "p.yaml")], f"{bad}:2:")
    fails(["replay-case", str(bad), "-o", str(tmp_path / "c.yaml")], f"{bad}:2:")
    fails(["replay-case", str(trace), "-o", str(tmp_path / "c.yaml"), "--connections", "9"],
          "the trace has no connection [9]")
    fails(["replay-case", str(trace), "-o", str(tmp_path / "c.yaml"), "--id", "X-1"],
          "is not a case id")
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"gearcheck_trace": 1, "start": 0}\n')
    fails(["replay-profile", str(empty), "-o", str(tmp_path / "p.yaml")],
          "no job submission in the trace")
    fails(["record", "--out", str(tmp_path / "r")], "give --listen HOST:PORT and --upstream")
    fails(["record", "--listen", "127.0.0.1:0", "--upstream", "nowhere:x", "--out",
           str(tmp_path / "r")], "--upstream 'nowhere:x'")
    fails(["record", "--pcap", str(tmp_path / "missing.pcap"), "--out", str(tmp_path / "r")],
          "no such file")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "trace.jsonl").write_text("")
    fails(["record", "--pcap", str(trace), "--out", str(tmp_path / "r")], "exists")
    fails(["record", "--pcap", str(trace), "--out", str(tmp_path / "r2")], "cannot read")


def _r(t: float, conn: int, direction: str, ptype: str, **args: str) -> dict[str, Any]:
    return {"t": t, "conn": conn, "dir": direction, "type": ptype, "args": args}


def _kinds(records: list[dict[str, Any]]) -> list[str]:
    return [f"{r['conn']}:{r['type']}" for r in records]


def test_grabs_go_where_the_servers_answers_put_them() -> None:
    """A worker (1) and a client (2) whose packets crossed in a multi-threaded server."""
    can_do = _r(0.0, 1, "to_server", "CAN_DO", function="f")
    # NO_JOB although the submission passed the proxy first: the grab was handled first.
    crossed = [can_do, _r(1.0, 2, "to_server", "SUBMIT_JOB", function="f", unique="", data="x"),
               _r(1.1, 1, "to_server", "GRAB_JOB"), _r(1.2, 2, "to_client", "JOB_CREATED",
                                                      handle="H:1"),
               _r(1.3, 1, "to_client", "NO_JOB"), _r(1.4, 1, "to_server", "PRE_SLEEP"),
               _r(1.5, 1, "to_client", "NOOP"), _r(1.6, 1, "to_server", "GRAB_JOB"),
               _r(1.7, 1, "to_client", "JOB_ASSIGN", handle="H:1", function="f", data="x")]
    from gearcheck.record.case import server_order

    assert _kinds(server_order(crossed))[:5] == [
        "1:CAN_DO", "1:GRAB_JOB", "1:NO_JOB", "2:SUBMIT_JOB", "2:JOB_CREATED"]
    # JOB_ASSIGN although the grab passed first: the submission was handled first.
    assigned = [can_do, _r(1.0, 1, "to_server", "GRAB_JOB"),
                _r(1.1, 2, "to_server", "SUBMIT_JOB", function="f", unique="", data="x"),
                _r(1.2, 1, "to_client", "JOB_ASSIGN", handle="H:1", function="f", data="x"),
                _r(1.3, 1, "to_server", "WORK_COMPLETE", handle="H:1", data="y"),
                _r(1.4, 2, "to_client", "JOB_CREATED", handle="H:1")]
    assert _kinds(server_order(assigned)) == [
        "1:CAN_DO", "2:SUBMIT_JOB", "2:JOB_CREATED", "1:GRAB_JOB", "1:JOB_ASSIGN",
        "1:WORK_COMPLETE"]
    # A submission sent before the worker's last answer, handled after its next grab.
    stuck = [can_do, _r(1.0, 2, "to_server", "SUBMIT_JOB_BG", function="f", unique="",
                         data="x"),
             _r(1.1, 1, "to_client", "NOOP"), _r(1.2, 1, "to_server", "GRAB_JOB"),
             _r(1.3, 1, "to_client", "NO_JOB"),
             _r(1.4, 2, "to_client", "JOB_CREATED", handle="H:2"),
             _r(1.5, 1, "to_server", "GRAB_JOB"),
             _r(1.6, 1, "to_client", "JOB_ASSIGN", handle="H:2", function="f", data="x")]
    assert _kinds(server_order(stuck))[:6] == [
        "1:CAN_DO", "1:NOOP", "1:GRAB_JOB", "1:NO_JOB", "2:SUBMIT_JOB_BG", "2:JOB_CREATED"]
