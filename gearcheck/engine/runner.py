"""One scenario against one server: the verdict and its evidence.

Strategy: ``run_case`` checks ``requires`` against the run's capability
profile first (UNSUPPORTED, with the probe's evidence, and nothing sent),
opens the case's declared actors, interprets the steps, and always closes
every connection. The verdict follows from how the steps ended: normally ->
PASS, or NON-STRICT when a tolerated alternative was taken; ``StepFailure`` ->
FAIL with its failure kind, expected and actual; ``HarnessError`` or any
unexpected exception -> ERROR, which is never counted against the server.
A case with ``servers:`` gets them from the run's provider (engine.servers)
before anything is sent: when they cannot be provided it is UNSUPPORTED with
the reason; when one cannot be started, ERROR. They are released at the end.
The whole transcript of every connection goes into the result either way.

After the verdict, the case's own ``cleanup`` steps run (their failures are
evidence), every connection is closed, and the harness cleans up after the case
on every server that outlives it (engine.cleanup: its jobs drained or cancelled,
its functions dropped); what that did is ``evidence["cleanup"]``. The case's
``duration_s`` ends with its steps.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from ..results import CaseResult, Verdict
from ..wire import Address
from .case_runtime import CaseRuntime
from .cleanup import Cleanup, CleanupAbilities, clean_up
from .loader import Scenario
from .outcome import HarnessError, StepFailure
from .probe import CapabilityProfile
from .servers import CaseServers, ExtraServers, Unavailable, needs_of
from .steps import STEP_EXECUTORS, run_steps
from .timing import Timing
from .values import ScenarioError, Variables


def _result(scenario: Scenario, verdict: Verdict, **kwargs: object) -> CaseResult:
    return CaseResult(case_id=scenario.id, title=scenario.title, area=scenario.area,
                      level=scenario.level, verdict=verdict, source=scenario.source,
                      tags=list(scenario.tags), file=scenario.file, line=scenario.line,
                      **kwargs)  # type: ignore[arg-type]


def missing_capabilities(scenario: Scenario, profile: CapabilityProfile | None) -> dict[str, str]:
    if profile is None:
        return {}
    return {cap: profile.evidence(cap) for cap in scenario.requires
            if not profile.supports(cap)}


def acquire_servers(scenario: Scenario, servers: ExtraServers | None,
                    ) -> CaseServers | CaseResult | None:
    """The case's extra servers, or its UNSUPPORTED/ERROR result, or None when it needs none."""
    if not scenario.servers:
        return None
    needs = needs_of(scenario.servers, scenario.restarted)
    wanted = {n.name: n.config.describe() for n in needs}
    if servers is None:
        return _result(scenario, Verdict.UNSUPPORTED,
                       message="the case needs extra servers and this run has no way to "
                               "provide them",
                       evidence={"servers_needed": wanted})
    try:
        return servers.acquire(needs, scenario.id)
    except Unavailable as exc:
        return _result(scenario, Verdict.UNSUPPORTED, message=exc.message,
                       evidence={"servers_needed": wanted, "unavailable": exc.evidence})
    except Exception as exc:  # a server that does not start: the set-up failed
        return _result(scenario, Verdict.ERROR,
                       message=f"cannot start the case's extra servers: {exc}",
                       evidence={"servers_needed": wanted})


def run_case(scenario: Scenario, address: Address, *, run_id: str, timing: Timing,
             profile: CapabilityProfile | None = None, servers: ExtraServers | None = None,
             clean_up: bool = True) -> CaseResult:
    missing = missing_capabilities(scenario, profile)
    if missing:
        names = ", ".join(missing)
        return _result(scenario, Verdict.UNSUPPORTED,
                       message=f"the server lacks {names} (capability probe)",
                       evidence={"missing_capabilities": missing})
    acquiring = time.monotonic()
    extra = acquire_servers(scenario, servers)
    if isinstance(extra, CaseResult):
        return extra
    acquired_s = time.monotonic() - acquiring
    variables = Variables(run_id, scenario.id)
    rt = CaseRuntime(address=address, timing=timing, variables=variables,
                     executors=STEP_EXECUTORS, case_timeout=scenario.timeout, noise=scenario.noise,
                     servers=extra, actor_servers=scenario.actor_servers)
    started = time.monotonic()
    ended: float | None = None
    own_cleanup: dict[str, Any] | None = None
    swept: list[Cleanup] = []
    try:
        verdict, fields = execute(scenario, rt)
        ended = time.monotonic()
        own_cleanup = run_cleanup_steps(scenario, rt)
    finally:
        rt.close_all()
        if clean_up:
            swept = sweep(rt, address, extra, profile)
        if extra is not None:
            extra.release()
    result = case_result(scenario, rt, verdict, fields, started, ended)
    if extra is not None:
        result.evidence.setdefault("servers", {"main": str(address), **extra.describe()})
        result.evidence.setdefault("servers_ready_s", round(acquired_s, 4))
    if own_cleanup is not None:
        result.evidence["cleanup_steps"] = own_cleanup
    if swept:
        result.evidence["cleanup"] = [c.to_dict() for c in swept]
    return result


def case_result(scenario: Scenario, rt: CaseRuntime, verdict: Verdict,
                fields: dict[str, Any], started: float, ended: float | None = None,
                ) -> CaseResult:
    duration = (ended if ended is not None else time.monotonic()) - started
    result = _result(scenario, verdict, duration_s=round(duration, 4),
                     transcript=rt.transcript.entries, **fields)
    result.evidence.setdefault("timing", rt.timing.describe())
    return result


def run_cleanup_steps(scenario: Scenario, rt: CaseRuntime) -> dict[str, Any] | None:
    """The case's own ``cleanup`` steps, after its verdict is decided; what failed, or None.

    They run whatever the verdict was; a failure is reported as evidence, never as the verdict.
    """
    if not scenario.cleanup:
        return None
    rt.transcript.note("harness", "the case's clean-up steps")
    non_strict, rt.journals = list(rt.non_strict), []
    try:
        run_steps(rt, scenario.cleanup, "cleanup")
        return None
    except (StepFailure, HarnessError) as exc:
        return {"step": exc.step_path, "step_line": exc.step_line, "message": exc.message}
    except Exception as exc:  # the verdict stands whatever the clean-up hit
        return {"message": f"{type(exc).__name__}: {exc}"}
    finally:
        rt.non_strict = non_strict


def sweep(rt: CaseRuntime, address: Address, extra: CaseServers | None,
          profile: CapabilityProfile | None) -> list[Cleanup]:
    """Clean up after the case (engine.cleanup) on every server that outlives it."""
    abilities = CleanupAbilities.of(profile.supports) if profile else CleanupAbilities()
    lasting = {str(address): address, **(extra.lasting() if extra is not None else {})}
    out: list[Cleanup] = []
    for server, touch in rt.touched.servers.items():
        if server not in lasting or not touch:
            continue
        try:
            done = clean_up(lasting[server], touch, namespace=rt.variables.function(),
                            abilities=abilities, timing=rt.timing)
        except Exception as exc:  # never the case's verdict
            done = Cleanup(server, error=f"{type(exc).__name__}: {exc}")
        if done is not None:
            out.append(done)
    return out


def execute(scenario: Scenario, rt: CaseRuntime) -> tuple[Verdict, dict[str, Any]]:
    """Open the case's actors and run its steps: the verdict and the result's fields.

    The actors stay open; the caller closes them (``rt.close_all()``).
    """
    verdict, fields = Verdict.PASS, dict[str, Any]()
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
    return verdict, fields
