"""Scenario files as pytest collectors, cases as pytest items, verdicts as pytest outcomes.

Strategy: a YAML file that the plugin recognises becomes a ``ScenarioFile``;
each case in it a ``ScenarioItem`` with markers for its level, area and tags
(so ``-m "must and not slow"`` works) and its tags as ``-k`` keywords. A file
that does not load becomes one ``ScenarioLoadError`` item that ERRORs with the
loader's file:line:field messages, and a duplicated case id likewise; the other
files still run. The case runs in the item's setup (``RunState.run``: the
engine, then the baseline); the pytest outcome follows from the judged verdict
and nothing else:

    PASS, NON-STRICT  passed        XFAIL   xfailed (the baseline's reason)
    FAIL, XPASS       failed        ERROR   error (the harness, never the server)
    UNSUPPORTED       skipped (with the probe's evidence)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..engine.loader import LoadError, Scenario, load_file
from ..engine.probe import KNOWN_CAPABILITIES
from ..results import CaseResult, Verdict
from .failure_text import CaseFailed, format_result
from .run_state import STATE

_SCENARIO_TEXT = re.compile(r"^id:\s*[\"']?GM-", re.MULTILINE)

# Markers that pytest or its plugins interpret (with arguments): a scenario tag of
# the same name must not become one, or pytest-timeout would read `timeout`.
_PYTEST_OWN_MARKERS = frozenset({
    "timeout", "skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings",
    "tryfirst", "trylast", "xdist_group", "flaky",
})


def is_scenario_file(path: Path) -> bool:
    """A .yaml/.yml file under a folder named ``conformance``, or one that starts a case."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    if "conformance" in path.parts[:-1]:
        return True
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return bool(_SCENARIO_TEXT.search(head))


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        state = self.config.stash[STATE]
        try:
            display = str(self.path.relative_to(self.config.rootpath))
        except ValueError:
            display = str(self.path)
        scenarios, errors = load_file(self.path, set(KNOWN_CAPABILITIES), display=display)
        if errors:
            yield ScenarioLoadError.from_parent(self, name="load-error", errors=errors,
                                                display=display)
            return
        for scenario in scenarios:
            state.collected_ids.add(scenario.id)
            first = state.seen_ids.get(scenario.id)
            if first is not None and first != f"{display}:{scenario.line}":
                yield ScenarioLoadError.from_parent(
                    self, name=scenario.id, display=display,
                    errors=[LoadError(display, scenario.line, "id",
                                      f"duplicate case id {scenario.id}, first defined at "
                                      f"{first}")])
                continue
            state.seen_ids[scenario.id] = f"{display}:{scenario.line}"
            yield ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)


class ScenarioLoadError(pytest.Item):
    def __init__(self, *, errors: list[LoadError], display: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.errors = errors
        self.display = display

    def setup(self) -> None:
        state = self.config.stash[STATE]
        text = "\n".join(str(e) for e in self.errors)
        state.results.append(CaseResult(
            case_id=f"LOAD-ERROR:{self.display}", title="scenario file does not load",
            area="load", level="MUST", verdict=Verdict.ERROR, file=self.display,
            line=self.errors[0].line, message=text))
        pytest.fail(f"scenario file does not load:\n{text}", pytrace=False)

    def runtest(self) -> None:  # pragma: no cover - setup always fails
        pass

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.errors[0].line - 1, 0), f"{self.display}: load error"


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: CaseResult | None = None
        for name in (scenario.level.lower(), scenario.area, *scenario.tags):
            marker = re.sub(r"\W", "_", name)
            if marker in _PYTEST_OWN_MARKERS:
                continue  # a tag named like pytest's own markers still matches -k
            self.config.addinivalue_line("markers", f"{marker}: conformance tag")
            self.add_marker(marker)
        self.extra_keyword_matches.update(scenario.tags)

    def setup(self) -> None:
        state = self.config.stash[STATE]
        if state.settings is None:
            pytest.fail(state.setup_error or "no server to test: pass --server HOST:PORT or "
                        "--target NAME", pytrace=False)
        self.result = state.run(self.scenario)
        if self.result.verdict is Verdict.ERROR:
            pytest.fail(format_result(self.result), pytrace=False)

    def runtest(self) -> None:
        result = self.result
        assert result is not None
        verdict = result.verdict
        if verdict is Verdict.UNSUPPORTED:
            pytest.skip(f"UNSUPPORTED: {result.message}")
        baseline = result.evidence.get("baseline") or {}
        if verdict is Verdict.XFAIL:
            pytest.xfail(f"baseline: {baseline.get('expected')}: {baseline.get('reason')}")
        if verdict is Verdict.XPASS:
            raise CaseFailed(result, f"XPASS: {result.case_id} is in the baseline "
                                     f"({baseline.get('reason')}) but now gives "
                                     f"{baseline.get('verdict_before')}; remove the entry")
        if verdict is Verdict.FAIL:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return excinfo.value.text
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # the baseline's reason; pytest's default would parse the source of every
            # frame down to the plugin's own xfail call (~0.2 s of CPU per XFAIL case)
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.scenario.line - 1, 0), \
            f"{self.scenario.id} [{self.scenario.level}] {self.scenario.title}"
