"""tcpdump writing loopback traffic to a pcap file, for tests that read captures.

Entering the context returns once tcpdump says it is listening; it writes
every packet as it is seen (``--immediate-mode -U``, a large kernel buffer)
and is stopped (SIGTERM, then SIGKILL) when the context is left; ``messages``
then holds tcpdump's own counts, including kernel drops.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


class Tcpdump:
    """tcpdump writing loopback traffic of some ports to a file; a context manager."""

    def __init__(self, port: int | Sequence[int], path: Path) -> None:
        self.ports = [port] if isinstance(port, int) else list(port)
        self.path = path
        self.messages = ""  # tcpdump's stderr (its packet and drop counts once stopped)
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tcpdump:
        # A large kernel buffer (-B, KiB): on a busy machine tcpdump may be
        # scheduled late, and 64 KiB loopback segments fill the default one fast.
        self._proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "--immediate-mode", "-U", "-B", "65536",
             "-w", str(self.path), "tcp", "and", "(",
             *" or ".join(f"port {p}" for p in self.ports).split(), ")"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_until_listening(deadline_s=10.0)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stderr is not None:
            self.messages += proc.stderr.read().decode(errors="replace")
            proc.stderr.close()

    def _wait_until_listening(self, deadline_s: float) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        deadline = time.monotonic() + deadline_s
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stderr, selectors.EVENT_READ)
            while "listening on" not in self.messages:
                left = deadline - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    raise AssertionError(
                        f"tcpdump did not start listening within {deadline_s}s "
                        f"(exit code {proc.poll()}): {self.messages}")
                if sel.select(timeout=left):
                    self.messages += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
