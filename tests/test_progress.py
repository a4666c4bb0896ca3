"""Progress: a line every interval in a log, even while nothing finishes; a bar on a tty."""

from __future__ import annotations

import io
import threading
import time

from gearcheck.progress import Progress


class Log(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_a_log_gets_a_complete_line_every_interval_and_one_at_the_end() -> None:
    log = Log()
    with Progress("conformance", 10, unit="cases", every=0.1, stream=log) as progress:
        progress.advance(outcome="PASS")
        progress.advance(outcome="FAIL")
        time.sleep(0.35)  # nothing finishes for a while: lines still come
        worker = threading.Thread(target=lambda: progress.advance(outcome="PASS"))
        worker.start()
        worker.join()
    lines = log.getvalue().splitlines()
    assert len(lines) >= 4, lines
    assert lines[0].startswith("conformance: 2/10 cases (1 PASS, 1 FAIL) after 0 s")
    assert lines[-1].startswith("conformance: 3/10 cases (2 PASS, 1 FAIL)")


def test_a_terminal_gets_a_bar_and_no_lines() -> None:
    tty = Log()
    with Progress("fuzz", None, unit="inputs", every=0.05, stream=tty, terminal=True) as p:
        p.advance(5)
        time.sleep(0.15)
    assert "fuzz" in tty.getvalue() and "after" not in tty.getvalue()


def test_disabled_progress_writes_nothing() -> None:
    log = Log()
    with Progress("x", 1, every=0.01, stream=log, enabled=False) as progress:
        progress.advance()
        time.sleep(0.05)
    assert log.getvalue() == ""
