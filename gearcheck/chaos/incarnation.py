"""Which life of the job server a connection belongs to.

Job handles are only unique within one life of a server: gearmand counts
H:host:1, 2, ... again after a restart. The runner bumps a counter in a small
file before every (re)start of the server (written whole, then renamed into
place), and every client and worker reads it just before and just after it
connects: when the two differ the server was restarted meanwhile and the
connection is made again, so (handle, incarnation) names one job.
"""

from __future__ import annotations

import os
from pathlib import Path


class Incarnation:
    def __init__(self, path: Path) -> None:
        self.path = path

    def current(self) -> int:
        try:
            return int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def bump(self) -> int:
        value = self.current() + 1
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(value))
        os.replace(tmp, self.path)
        return value
