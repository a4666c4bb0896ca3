"""Running a library's driver program: JSON order in, JSON-line events out.

Strategy: every driver is a child process in its own session, so stopping it
kills whatever it started. A client run is ``run_client``: write the order to
stdin, wait with a deadline, SIGKILL on expiry, parse stdout. A worker is a
``WorkerProcess`` (a context manager): a reader thread collects its events as
they come so the caller can wait for ``ready`` or for N ``job`` events, and
leaving the ``with`` always kills it. Lines that are not JSON are kept as
``noise`` events so nothing a library prints is lost as evidence.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..wire import Address
from .registry import Library

STDERR_KEEP = 4000


@dataclass
class DriverRun:
    library: str
    role: str
    argv: list[str]
    order: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    returncode: int | None = None
    killed: bool = False  # the harness had to kill it (deadline or end of scenario)
    duration_s: float = 0.0

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    def evidence(self) -> dict[str, Any]:
        """The run as report evidence (the order without bulky payloads)."""
        return {"library": self.library, "role": self.role, "argv": self.argv,
                "returncode": self.returncode, "killed": self.killed,
                "duration_s": round(self.duration_s, 3), "order": _slim(self.order),
                "events": [_slim(e) for e in self.events[:200]],
                "events_total": len(self.events), "stderr": self.stderr[-STDERR_KEEP:]}


def _slim(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _slim(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_slim(v) for v in value[:50]] + (["..."] if len(value) > 50 else [])
    if isinstance(value, str) and len(value) > 300:
        return value[:120] + f"...({len(value)} chars)"
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def parse_line(line: str) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        return {"event": "noise", "text": line[:500]}
    return event if isinstance(event, dict) else {"event": "noise", "text": line[:500]}


def _spawn(lib: Library, role: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NODE_NO_WARNINGS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(lib.argv(role), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def server_field(address: Address) -> dict[str, Any]:
    return {"host": address.host, "port": address.port}


def run_client(lib: Library, order: dict[str, Any], deadline_s: float) -> DriverRun:
    """Run a client driver to completion or until ``deadline_s`` (then kill it)."""
    run = DriverRun(lib.name, "client", lib.argv("client"), order)
    start = time.monotonic()
    proc = _spawn(lib, "client")
    try:
        out, err = proc.communicate(json.dumps(order).encode(), timeout=deadline_s)
    except subprocess.TimeoutExpired:
        run.killed = True
        _kill(proc)
        try:  # a grandchild outside the process group could keep the pipes open
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out, err = b"", b"(output not readable: the pipes stayed open after the kill)"
    finally:
        _kill(proc)
    run.duration_s = time.monotonic() - start
    run.returncode = proc.returncode
    run.events = [parse_line(x) for x in out.decode("utf-8", "replace").splitlines() if x.strip()]
    run.stderr = err.decode("utf-8", "replace")
    return run


class WorkerProcess:
    """A worker driver running in the background while clients do their part."""

    def __init__(self, lib: Library, order: dict[str, Any]) -> None:
        self.run = DriverRun(lib.name, "worker", lib.argv("worker"), order)
        self.lib = lib
        self.proc: subprocess.Popen[bytes] | None = None
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stderr: list[bytes] = []
        self._start = 0.0

    def __enter__(self) -> WorkerProcess:
        self._start = time.monotonic()
        self.proc = _spawn(self.lib, "worker")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(self.run.order).encode())
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                with self._cond:
                    self.run.events.append(parse_line(line))
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            if sum(len(x) for x in self._stderr) < 64 * 1024:
                self._stderr.append(raw)

    def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` events of ``kind`` arrived (False at the deadline or exit)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.run.of(kind)) < count:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None
                                 and not self._threads[0].is_alive()):
                    return len(self.run.of(kind)) >= count
                self._cond.wait(min(left, 0.1))
        return True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.run.killed = True
        _kill(self.proc)
        for t in self._threads:
            t.join(2)
        self.run.returncode = self.proc.returncode
        self.run.duration_s = time.monotonic() - self._start
        self.run.stderr = b"".join(self._stderr).decode("utf-8", "replace")
