"""A server that is slow to accept is slow, not absent: the probe and the cases wait for it.

The admin commands are probed on eight connections at once. A server that
listens with a backlog of 1 (gear.Server does) has the kernel drop the SYNs
that do not fit, to be sent again after 1 s; with the reply deadline (0.5 s)
as the connect deadline, whichever commands lost that race were recorded as
missing, and `make matrix` showed gear's "cancel job" cases as UNSUPPORTED in
one run and FAIL in the next. With cases run side by side, the cases' own connections
to gear overflowed the backlog too, and a connect deadline of 2 s (shorter than the
second SYN retransmission, at 3 s) turned a case into an ERROR now and then.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from gearcheck.engine.probe import ADMIN_COMMANDS, _Prober, probe_server
from gearcheck.results import Verdict
from gearcheck.targets import open_target
from gearcheck.wire import Address

from .conftest import summary

ANSWERS = {b"status": b".\n", b"version": b"OK 9.9\n"}


class SlowToAcceptAdminServer:
    """Listens with a backlog of 1 and starts accepting 0.2 s late, as a busy server may;
    answers `status` and `version`, and ERR UNKNOWN_COMMAND to anything else."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=1)
        self.address = Address("127.0.0.1", self.sock.getsockname()[1])
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        time.sleep(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                command = line.strip()
                reply = next((a for c, a in ANSWERS.items() if command == c),
                             b"ERR UNKNOWN_COMMAND Unknown+server+command\n")
                conn.sendall(reply)

    def __enter__(self) -> SlowToAcceptAdminServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_admin_commands_are_judged_by_their_replies_on_a_slow_accepting_server() -> None:
    with SlowToAcceptAdminServer() as server:
        prober = _Prober(server.address, "backlog", timeout=0.5)
        prober.admin()
    caps = {name.removeprefix("admin:"): cap for name, cap in prober.caps.items()}
    assert set(caps) == set(ADMIN_COMMANDS)
    slow = {c: cap["evidence"] for c, cap in caps.items() if "timed out" in cap["evidence"]}
    assert not slow, slow
    assert {c for c, cap in caps.items() if cap["supported"]} == {"status", "version"}, caps


def test_a_case_waits_for_a_server_whose_accept_queue_is_full(run_yaml) -> None:  # type: ignore[no-untyped-def]
    """The queue is full when the case connects: its SYN is dropped at once and again at the
    first retransmission (1 s); the one at 3 s gets in."""
    with socket.create_server(("127.0.0.1", 0), backlog=1) as server:
        address = server.getsockname()
        fillers = [socket.create_connection(address) for _ in range(2)]  # backlog 1 holds 2
        time.sleep(0.1)

        def drain() -> None:
            time.sleep(1.5)
            for _ in range(3):
                conn, _ = server.accept()
                fillers.append(conn)

        acceptor = threading.Thread(target=drain, daemon=True)
        acceptor.start()
        try:
            result = run_yaml("""actors: [a]
steps:
  - expect_silence: {on: a, for: 0.1}
""", Address(*address))
        finally:
            acceptor.join(10)
            for s in fillers:
                s.close()
    assert result.verdict is Verdict.PASS, summary(result)


@pytest.mark.slow
def test_probing_gear_three_times_gives_one_profile(tmp_path: Path) -> None:
    profiles = []
    with open_target("gear", log_dir=tmp_path) as gear:
        for n in range(3):
            profiles.append(probe_server(gear.address, f"gearprobe{n}"))
    supported = [{name for name, cap in p.capabilities.items() if cap["supported"]}
                 for p in profiles]
    assert supported[0] == supported[1] == supported[2], supported
    assert "admin:cancel job" in supported[0]  # gear answers it (ERR UNKNOWN_JOB)
    for p in profiles:
        slow = [cap["evidence"] for cap in p.capabilities.values()
                if "timed out" in cap["evidence"]]
        assert not slow, slow
