"""The fuzz loop: generate an input, play it, ask the sentinel, keep what breaks.

Strategy: hypothesis drives generation (``@given`` called programmatically,
generate phase only, seeded, no example database), so the same seed gives the
same inputs. Each example is a round of one input per family
(``FAMILY_TURNS``), so even a short run covers every family. Each input is
played and the sentinel asked; a finding is recorded, not raised, and a
managed server that died or hung is restarted so the run goes on (an external
one ends the run: there is nothing left to fuzz). The run stops at the time or
count limit, by raising ``_TimeUp`` or ``_Stop`` out of hypothesis. Then each
distinct finding (kind x input family) is shrunk by delta debugging against a
fresh server where we can start one, and saved as a reproducer.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

from ..targets import ProcessTarget
from ..wire import Address
from .fuzz_exec import FuzzInput, play
from .fuzz_strategies import FAMILY_TURNS, fuzz_input
from .health import Health, Sentinel
from .reproducer import save_reproducer
from .shrink import shrink


@dataclass
class Finding:
    number: int
    kind: str
    detail: str
    input: FuzzInput
    input_index: int
    shrunk: FuzzInput | None = None
    shrink_trials: int = 0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        final = self.shrunk or self.input
        return {"number": self.number, "kind": self.kind, "detail": self.detail,
                "input_index": self.input_index, "input": self.input.describe(),
                "reproducer": final.describe(), "shrunk": self.shrunk is not None,
                "shrink_trials": self.shrink_trials, "files": self.files}


@dataclass
class FuzzSummary:
    server: str
    seed: int
    seconds: float
    max_inputs: int | None
    inputs_tried: int = 0
    by_family: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    restarts: int = 0
    stopped_early: str = ""
    elapsed_s: float = 0.0
    sentinel: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"server": self.server, "seed": self.seed, "seconds": self.seconds,
                "max_inputs": self.max_inputs, "inputs_tried": self.inputs_tried,
                "inputs_by_family": self.by_family, "findings": len(self.findings),
                "finding_details": [f.to_dict() for f in self.findings],
                "restarts": self.restarts, "stopped_early": self.stopped_early,
                "elapsed_s": round(self.elapsed_s, 2), "sentinel": self.sentinel}


class _TimeUp(Exception):
    pass


class _Stop(Exception):
    pass


class FuzzRun:
    def __init__(self, address: Address | None, *, out_dir: Path, seconds: float, seed: int,
                 max_inputs: int | None = None, target: ProcessTarget | None = None,
                 deadline_s: float = 5.0, shrink_seconds: float = 30.0,
                 on_input: Callable[[int, float], None] | None = None) -> None:
        if address is None and target is None:
            raise ValueError("a fuzz run needs a server address or a managed target")
        self.target = target
        self._address = address
        self.out_dir = out_dir
        self.seconds = seconds
        self.seed = seed
        self.max_inputs = max_inputs
        self.deadline_s = deadline_s
        self.shrink_seconds = shrink_seconds
        self.on_input = on_input
        self.sentinel: Sentinel | None = None
        self.summary = FuzzSummary(str(self.address), seed, seconds, max_inputs)

    @property
    def address(self) -> Address:
        return self.target.address if self.target is not None else self._address  # type: ignore[return-value]

    def _new_sentinel(self) -> Sentinel:
        if self.sentinel is not None:
            self.sentinel.close()
        pid = self.target.pid if self.target is not None else None
        self.sentinel = Sentinel(self.address, deadline_s=self.deadline_s, pid=pid).start()
        return self.sentinel

    def _restart(self) -> None:
        assert self.target is not None
        self.target.kill()
        self.target.start()
        self.summary.restarts += 1
        self._new_sentinel()

    # -- the loop ----------------------------------------------------------
    def _one_input(self, inp: FuzzInput) -> None:
        index = self.summary.inputs_tried
        self.summary.inputs_tried += 1
        family = inp.kind.split(":")[0]
        self.summary.by_family[family] = self.summary.by_family.get(family, 0) + 1
        play(inp, self.address)
        health = self.sentinel.check()  # type: ignore[union-attr]
        if not health.ok:
            self._record(inp, index, health)

    def run(self) -> FuzzSummary:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        end = started + self.seconds
        self._new_sentinel()
        assert self.sentinel is not None
        self.summary.sentinel = {"probe": self.sentinel.probe,
                                 "connection_count": self.sentinel.count_source,
                                 "baseline_rss_kib": self.sentinel.baseline_rss_kib}

        @settings(max_examples=self.max_inputs or 10**7, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                  verbosity=Verbosity.quiet, print_blob=False)
        @hypothesis_seed(self.seed)
        @given(st.tuples(*(fuzz_input(family) for family in FAMILY_TURNS)))
        def one_round(inputs: tuple[FuzzInput, ...]) -> None:
            for inp in inputs:
                if time.monotonic() > end:
                    raise _TimeUp
                if self.summary.stopped_early or (
                        self.max_inputs and self.summary.inputs_tried >= self.max_inputs):
                    raise _Stop
                self._one_input(inp)
                if self.on_input is not None:
                    self.on_input(self.summary.inputs_tried, time.monotonic() - started)

        try:
            with warnings.catch_warnings():  # the round that raised _TimeUp is not worth a repr
                warnings.simplefilter("ignore", HypothesisWarning)
                one_round()
        except (_TimeUp, _Stop):
            pass
        except BaseExceptionGroup as group:  # hypothesis may wrap repeated stop signals
            if not all(isinstance(e, (_TimeUp, _Stop)) for e in group.exceptions):
                raise
        self.summary.elapsed_s = time.monotonic() - started
        if self.sentinel is not None:
            self.summary.sentinel["peak_rss_kib"] = self.sentinel.peak_rss_kib
        self._shrink_and_save()
        if self.sentinel is not None:
            self.sentinel.close()
        (self.out_dir / "summary.json").write_text(
            json.dumps(self.summary.to_dict(), indent=2) + "\n")
        return self.summary

    def _record(self, inp: FuzzInput, index: int, health: Health) -> None:
        finding = Finding(len(self.summary.findings) + 1, health.kind, health.detail, inp, index)
        self.summary.findings.append(finding)
        if self.target is not None:
            self._restart()
        elif health.kind in ("died", "unresponsive"):
            self.summary.stopped_early = f"{health.kind}: {health.detail}"
        else:
            self._new_sentinel()

    # -- reproducers -------------------------------------------------------
    def _reproduces(self, kind: str) -> Callable[[FuzzInput], bool]:
        def check(candidate: FuzzInput) -> bool:
            assert self.sentinel is not None
            play(candidate, self.address)
            health = self.sentinel.check()
            if health.ok:
                return False
            if self.target is not None:
                self._restart()
            else:
                self._new_sentinel()
            return health.kind == kind
        return check

    def _shrink_and_save(self) -> None:
        seen: set[tuple[str, str]] = set()
        budget_end = time.monotonic() + self.shrink_seconds
        for finding in self.summary.findings:
            key = (finding.kind, finding.input.kind)
            can_replay = self.target is not None or finding.kind in ("leak", "memory")
            left = budget_end - time.monotonic()
            if key not in seen and can_replay and left > 1:
                seen.add(key)
                try:
                    result = shrink(finding.input, self._reproduces(finding.kind),
                                    deadline_s=left)
                    finding.shrunk, finding.shrink_trials = result.smallest, result.trials
                except Exception as exc:  # a server that broke for good mid-shrink
                    finding.detail += f" (shrinking stopped: {exc})"
            finding.files = save_reproducer(self.out_dir, finding.number, finding.kind,
                                            finding.detail, finding.shrunk or finding.input,
                                            server=self.summary.server,
                                            deadline_s=self.deadline_s)
