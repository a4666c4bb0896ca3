"""A chaos worker process: runs every job it is given and writes down each step.

Strategy: a separate OS process (``python -m gearcheck.chaos.worker``), so a
kill -9 is a real worker death that the kernel reports to the server. It
registers every function of the plan, grabs with GRAB_JOB_UNIQ (sleeping on
PRE_SLEEP when there is nothing), and for each job writes ``grab`` (handle,
function, unique, the payload's token and fingerprint), works for the time the
plan gives that job, sends WORK_COMPLETE naming the job it ran and an
ECHO_REQ right behind it, writes ``complete``, and writes ``confirmed`` when
the ECHO_RES comes back: the server reads a connection in order, so by then
it has taken the completion in. A lost connection is written down and made
again (the server may be restarting); a stopped server is waited for. SIGTERM
ends it between jobs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from ..protocol import Packet, PacketType
from ..wire import Address, Connection, ReceiveTimeout, WireError
from .history import HistoryWriter
from .incarnation import Incarnation
from .plan import Plan, data_digest, result_for, token_of

WAIT_SLICE_S = 0.25


class Stop(Exception):
    pass


class ChaosWorker:
    def __init__(self, address: Address, plan: Plan, history: HistoryWriter,
                 incarnation: Incarnation, name: str) -> None:
        self.address = address
        self.functions = plan.functions
        self.work_ms = {j.token: j.work_ms for j in plan.jobs}
        self.history = history
        self.incarnation = incarnation
        self.name = name
        self.stopping = False
        self.conn: Connection | None = None
        self.inc = 0

    def _check_stop(self) -> None:
        if self.stopping:
            raise Stop

    def connect(self) -> Connection:
        delay = 0.05
        while True:
            self._check_stop()
            before = self.incarnation.current()
            try:
                conn = Connection.open(self.address, timeout=10.0, connect_timeout=1.0)
            except (OSError, WireError):
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if self.incarnation.current() != before:
                conn.close()
                continue
            try:
                conn.send_many([Packet.build("SET_CLIENT_ID", self.name)]
                               + [Packet.build("CAN_DO", f) for f in self.functions])
            except (OSError, WireError):
                conn.close()
                continue
            self.inc = before
            self.history.write("connected", worker=self.name, inc=before)
            return conn

    def recv(self, conn: Connection, want: set[PacketType]) -> Packet:
        """The next packet of a wanted type, waiting out a paused server, NOOPs skipped."""
        while True:
            self._check_stop()
            try:
                packet = conn.recv_packet(WAIT_SLICE_S)
            except ReceiveTimeout:
                continue
            if packet.type in want:
                return packet

    def run(self) -> None:
        while True:
            try:
                if self.conn is None:
                    self.conn = self.connect()
                self.step(self.conn)
            except Stop:
                return
            except (OSError, WireError) as exc:
                self.history.write("disconnected", worker=self.name, inc=self.inc,
                                   why=str(exc)[:120])
                if self.conn is not None:
                    self.conn.close()
                self.conn = None

    def step(self, conn: Connection) -> None:
        conn.send(Packet.build("GRAB_JOB_UNIQ"))
        reply = self.recv(conn, {PacketType.NO_JOB, PacketType.JOB_ASSIGN_UNIQ})
        if reply.type == PacketType.NO_JOB:
            conn.send(Packet.build("PRE_SLEEP"))
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                self._check_stop()
                try:
                    if conn.recv_packet(WAIT_SLICE_S).type == PacketType.NOOP:
                        return
                except ReceiveTimeout:
                    continue
            return
        handle, function = reply.arg("handle"), reply.arg("function")
        unique, data = reply.arg("unique"), reply.arg("data")
        token = token_of(data)
        self.history.write("grab", worker=self.name, inc=self.inc, handle=handle.hex(),
                           fn=function.hex(), uniq=unique.hex(), job=token,
                           dd=data_digest(data), size=len(data))
        work = self.work_ms.get(token or "", 0)
        if work:
            time.sleep(work / 1000)
        conn.send_many([Packet.build("WORK_COMPLETE", handle, result_for(token, data)),
                        Packet.build("ECHO_REQ", b"done:" + handle)])
        self.history.write("complete", worker=self.name, inc=self.inc, handle=handle.hex(),
                           job=token)
        self.recv(conn, {PacketType.ECHO_RES})
        self.history.write("confirmed", worker=self.name, inc=self.inc, handle=handle.hex(),
                           job=token)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True)
    p.add_argument("--plan", required=True, type=Path)
    p.add_argument("--history", required=True, type=Path)
    p.add_argument("--incarnation", required=True, type=Path)
    p.add_argument("--t0", required=True, type=float, help="the run's start (time.monotonic)")
    p.add_argument("--name", required=True)
    args = p.parse_args(argv)
    history = HistoryWriter(args.history, args.t0)
    worker = ChaosWorker(Address.parse(args.server), Plan.load(args.plan), history,
                         Incarnation(args.incarnation), args.name)

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        worker.stopping = True

    signal.signal(signal.SIGTERM, on_term)
    history.write("worker", worker=args.name, state="started")
    try:
        worker.run()
    finally:
        if worker.conn is not None:
            worker.conn.close()
        history.write("worker", worker=args.name, state="stopped")
        history.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
