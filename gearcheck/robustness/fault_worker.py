"""A worker process that writes down every job it runs, so it can be killed with -9.

Strategy: a separate OS process (``python -m gearcheck.robustness.fault_worker``)
because a fault is only real when the kernel tears the connection down. It
registers one function, grabs with GRAB_JOB_UNIQ, sleeps on PRE_SLEEP between
jobs, and appends ``start``/``done`` lines (handle, unique, data in hex) to a
log file, flushed and fsynced before each step, and echoes them on stdout so
the parent can react the moment a job starts. It exits when idle for
``--idle-exit`` seconds; every wait has a deadline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..protocol import Packet, PacketType
from ..wire import Address, Connection, ReceiveTimeout


def _note(log, line: str) -> None:  # type: ignore[no-untyped-def]
    log.write(line + "\n")
    log.flush()
    os.fsync(log.fileno())
    print(line, flush=True)


def work(address: Address, function: str, log_path: str, *, work_s: float,
         idle_exit_s: float, client_id: str) -> int:
    done = 0
    last_job = time.monotonic()
    with Connection.open(address, timeout=10.0) as conn, open(log_path, "a") as log:
        conn.send(Packet.build("SET_CLIENT_ID", client_id))
        conn.send(Packet.build("CAN_DO", function))
        _note(log, "ready")
        while time.monotonic() - last_job < idle_exit_s:
            conn.send(Packet.build("GRAB_JOB_UNIQ"))
            reply = conn.recv_packet(10.0)
            while reply.type == PacketType.NOOP:
                reply = conn.recv_packet(10.0)
            if reply.type == PacketType.NO_JOB:
                conn.send(Packet.build("PRE_SLEEP"))
                try:
                    conn.expect(PacketType.NOOP, timeout=0.2)
                except ReceiveTimeout:
                    pass
                continue
            if reply.type != PacketType.JOB_ASSIGN_UNIQ:
                print(f"unexpected {reply!r}", file=sys.stderr, flush=True)
                return 2
            handle, unique, data = reply.arg("handle"), reply.arg("unique"), reply.arg("data")
            fields = f"{handle.hex()} {unique.hex()} {data.hex()}"
            _note(log, f"start {fields}")
            if work_s:
                time.sleep(work_s)
            conn.send(Packet.build("WORK_COMPLETE", handle, b"done:" + data))
            _note(log, f"done {fields}")
            done += 1
            last_job = time.monotonic()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True)
    p.add_argument("--function", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--work-seconds", type=float, default=0.0)
    p.add_argument("--idle-exit", type=float, default=3.0)
    p.add_argument("--client-id", default=f"fault-worker-{os.getpid()}")
    args = p.parse_args(argv)
    return work(Address.parse(args.server), args.function, args.log, work_s=args.work_seconds,
                idle_exit_s=args.idle_exit, client_id=args.client_id)


if __name__ == "__main__":
    sys.exit(main())
