"""One scenario against one server: the verdict and its evidence.

Strategy: ``run_case`` checks ``requires`` against the run's capability
profile first (UNSUPPORTED, with the probe's evidence, and nothing sent),
opens the case's declared actors, interprets the steps, and always closes
every connection. The verdict follows from how the steps ended: normally ->
PASS, or NON-STRICT when a tolerated alternative was taken; ``StepFailure`` ->
FAIL with its failure kind, expected and actual; ``HarnessError`` or any
unexpected exception -> ERROR, which is never counted against the server.
The whole transcript of every connection goes into the result either way.
"""

from __future__ import annotations

import time
import traceback

from ..report.model import CaseResult, Verdict
from ..wire import Address
from .loader import Scenario
from .outcome import HarnessError, StepFailure
from .probe import Profile
from .steps import CaseRuntime, run_steps
from .timing import Timing
from .values import ScenarioError, Variables


def _result(scenario: Scenario, verdict: Verdict, **kwargs: object) -> CaseResult:
    return CaseResult(case_id=scenario.id, title=scenario.title, area=scenario.area,
                      level=scenario.level, verdict=verdict, source=scenario.source,
                      tags=list(scenario.tags), file=scenario.file, line=scenario.line,
                      **kwargs)  # type: ignore[arg-type]


def missing_capabilities(scenario: Scenario, profile: Profile | None) -> dict[str, str]:
    if profile is None:
        return {}
    return {cap: profile.evidence(cap) for cap in scenario.requires
            if not profile.supports(cap)}


def run_case(scenario: Scenario, address: Address, *, run_id: str, timing: Timing,
             profile: Profile | None = None) -> CaseResult:
    missing = missing_capabilities(scenario, profile)
    if missing:
        names = ", ".join(missing)
        return _result(scenario, Verdict.UNSUPPORTED,
                       message=f"the server lacks {names} (capability probe)",
                       evidence={"missing_capabilities": missing})
    variables = Variables(run_id, scenario.id)
    rt = CaseRuntime(address=address, timing=timing, variables=variables,
                     case_timeout=scenario.timeout, noise=scenario.noise)
    started = time.monotonic()
    verdict, fields = Verdict.PASS, {}
    try:
        for name in scenario.actors:
            rt.connect(name)
        run_steps(rt, scenario.steps, "steps", top=True)
        if rt.non_strict:
            verdict = Verdict.NON_STRICT
            fields = {"message": "a tolerated alternative matched: " + "; ".join(rt.non_strict),
                      "evidence": {"non_strict": rt.non_strict}}
        else:
            fields = {"message": "every step matched"}
    except StepFailure as failure:
        verdict = Verdict.FAIL
        fields = {"message": failure.message, "failure_kind": failure.kind,
                  "failing_step": failure.top_index, "expected": failure.expected,
                  "actual": failure.actual,
                  "evidence": {"step": failure.step_path, "step_line": failure.step_line,
                               **failure.evidence}}
    except HarnessError as err:
        verdict = Verdict.ERROR
        fields = {"message": err.message, "failing_step": err.top_index,
                  "evidence": {"step": err.step_path, "step_line": err.step_line}}
    except ScenarioError as err:
        verdict = Verdict.ERROR
        fields = {"message": f"scenario error: {err}"}
    except Exception as exc:  # a bug in the harness: ERROR, with the traceback as evidence
        verdict = Verdict.ERROR
        fields = {"message": f"harness error: {type(exc).__name__}: {exc}",
                  "evidence": {"traceback": traceback.format_exc()}}
    finally:
        rt.close_all()
    result = _result(scenario, verdict, duration_s=round(time.monotonic() - started, 4),
                     transcript=rt.transcript.entries, **fields)
    result.evidence.setdefault("timing", timing.describe())
    return result
