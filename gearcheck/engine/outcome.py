"""How a step ends when it does not succeed: a server failure or a harness error.

Strategy: two exception types carry everything the result needs. A
``StepFailure`` is the server's fault (FAIL, with a ``FailureKind``, expected
and actual); a ``HarnessError`` is ours or the set-up's (ERROR, never blamed on
the server). Both learn the path and line of the step that raised them on
their way up through nested step lists.
"""

from __future__ import annotations

from typing import Any

from ..results import FailureKind


class _Located(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.step_path: str | None = None
        self.step_line: int = 0
        self.top_index: int | None = None

    def locate(self, path: str, line: int, top_index: int | None) -> None:
        if self.step_path is None:
            self.step_path, self.step_line = path, line
        if top_index is not None:
            self.top_index = top_index


class StepFailure(_Located):
    def __init__(self, kind: FailureKind, message: str, *, expected: Any = None,
                 actual: Any = None, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.expected = expected
        self.actual = actual
        self.evidence = evidence or {}


class HarnessError(_Located):
    pass
