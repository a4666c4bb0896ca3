"""A server that is not there, or is not Gearman, ends the run at once: one line, exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.engine.hostile import HostileServer


@contextmanager
def http_server() -> Iterator[str]:
    """Answers anything with an HTTP error and closes, as a web server on the wrong port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _conformance(server: str, out: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gearcheck", "conformance", "--server", server,
                           "--out", str(out)], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["closed port", "unknown host", "silent", "http"])
def test_no_gearman_there_is_one_clear_error_within_10_s(kind: str, tmp_path: Path) -> None:
    with HostileServer("silent") as silent, http_server() as http:
        server = {"closed port": _closed_port(), "unknown host": "no-such-host.invalid:4730",
                  "silent": silent.address, "http": http}[kind]
        code, output, seconds = _conformance(server, tmp_path / "run")
    problem = [line for line in output.splitlines() if "cannot run" in line]
    assert code == 2 and len(problem) == 1, output
    assert server.split(":")[0] in problem[0]
    assert output.count("ERROR") == 0 and "Traceback" not in output
    assert seconds < 10, seconds
    assert not (tmp_path / "run" / "report.json").exists()
