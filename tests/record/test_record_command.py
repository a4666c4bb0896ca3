"""``gearcheck record`` as an operator runs it: a process that records until it is stopped.

The command is started as a child process in front of gearmand on a free port
(``--listen 127.0.0.1:0``), says where it listens, records a client's
exchange, and on SIGINT (Ctrl-C) closes the trace and exits 0; with
``--duration`` it stops by itself. Every wait has a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from gearcheck.protocol import Packet, PacketType
from gearcheck.record.trace import read_trace
from gearcheck.targets import GearmandTarget
from gearcheck.wire import Address, Connection


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gearcheck.cli", "record", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _listening(proc: subprocess.Popen[str], deadline_s: float = 20.0) -> Address:
    assert proc.stderr is not None
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"recording (\S+):(\d+) ->", line)
        if found:
            return Address(found.group(1), int(found.group(2)))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"gearcheck record did not say where it listens: {proc.communicate()}")


def test_record_runs_until_interrupted(gearmand: GearmandTarget, tmp_path: Path) -> None:
    proc = _start(["--listen", "127.0.0.1:0", "--upstream", str(gearmand.address),
                   "--out", str(tmp_path)])
    try:
        address = _listening(proc)
        with Connection.open(address, timeout=5) as conn:
            conn.send(Packet.build("ECHO_REQ", "through the recorder"))
            assert conn.expect(PacketType.ECHO_RES).arg("data") == b"through the recorder"
            assert conn.admin("version")[0].startswith(b"OK")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert "1 connection(s)" in out and "Traceback" not in err
    trace = read_trace(tmp_path / "trace.jsonl")
    assert trace.header["upstream"] == str(gearmand.address)
    kinds = [r.get("type") or r.get("line") or r.get("event") for r in trace.records]
    assert kinds[:5] == ["open", "ECHO_REQ", "ECHO_RES", "version", kinds[4]]
    assert str(kinds[4]).startswith("OK ")
    assert "close" in kinds


def test_record_stops_after_its_duration(gearmand: GearmandTarget, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = _start(["--listen", "127.0.0.1:0", "--upstream", str(gearmand.address),
                   "--out", str(tmp_path), "--duration", "1"])
    try:
        _listening(proc)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 15
    assert "0 connection(s)" in out
    assert read_trace(tmp_path / "trace.jsonl").records == []
