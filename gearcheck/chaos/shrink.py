"""Shrinking: the smallest plan that still fails the same way, replayed from the same seed.

Strategy: a failing cell's plan is cut down and replayed against a fresh
server, each trial a whole run judged by the checker; a trial reproduces
when it fails with the same kind (lost, duplicated, ...) as the original.
The jobs and faults are those the seed drew: nothing is drawn again, tokens
keep their names, so a shrunk plan is a subset of the original. Order of
attempts, cheapest and likeliest first:

  0. for lost jobs and crashes, the same plan with its workers held back until the
     drain: every job is then queued when the faults land, which makes a
     loss across a restart depend on the jobs, not on timing;
  1. only the failing job(s), with every fault;
  2. the jobs up to the first failure, with the faults up to it and the next;
  3. delta debugging (ddmin) over the jobs (the cause may be another job than
     the one that failed: a payload that stops the server's replay, say),
     then over the faults.

Faults only ever matter for the kinds a restart can cause, so a failure that
shows without faults (an altered payload, say) drops them all in step 1 or
3. Every trial is bounded; when the trial count or the time budget runs out
the smallest reproducing plan so far is the answer, marked incomplete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..minimize import Budget, OutOfBudget, ddmin
from .checker import Judgement
from .plan import FaultSpec, JobSpec, Plan

Trial = Callable[[Plan], Judgement | None]   # None: the trial could not run


@dataclass
class ShrinkResult:
    plan: Plan
    judgement: Judgement
    trials: int
    complete: bool
    kind: str


def _tighten(plan: Plan) -> Plan:
    """Start the plan at its first job or fault and end it soon after its last. With its
    workers held, only the order of jobs and faults matters: gaps shrink to 0.2 s and
    faults last at most 0.5 s."""
    starts = [j.at for j in plan.jobs] + [f.at for f in plan.faults]
    if not starts:
        return plan
    if plan.extra.get("hold_workers"):
        return _compress(plan)
    shift = max(0.0, min(starts) - 0.2)
    jobs = tuple(replace(j, at=round(j.at - shift, 4)) for j in plan.jobs)
    faults = tuple(replace(f, at=round(f.at - shift, 3)) for f in plan.faults)
    ends = [j.at for j in jobs] + [f.at + f.duration for f in faults]
    return replace(plan, jobs=jobs, faults=faults, seconds=round(max(ends) + 0.5, 3))


def _compress(plan: Plan) -> Plan:
    events: list[tuple[float, int, JobSpec | FaultSpec]] = sorted(
        [(j.at, 0, j) for j in plan.jobs] + [(f.at, 1, f) for f in plan.faults],
        key=lambda e: (e[0], e[1]))
    jobs: list[JobSpec] = []
    faults: list[FaultSpec] = []
    t, previous_at = 0.2, events[0][0]
    for at, _, item in events:
        t += min(0.2, at - previous_at)   # never more than 0.2 s between two events
        previous_at = at
        if isinstance(item, FaultSpec):
            length = min(item.duration, 0.5)
            faults.append(replace(item, at=round(t, 3), duration=length))
            t += length + 0.2                # the next event comes after the heal
        else:
            jobs.append(replace(item, at=round(t, 4)))
    ends = [j.at for j in jobs] + [f.at + f.duration for f in faults]
    return replace(plan, jobs=tuple(jobs), faults=tuple(faults),
                   seconds=round(max(ends) + 0.5, 3))


def shrink(plan: Plan, original: Judgement, trial: Trial, *, kind: str,
           relevant: Callable[[dict[str, Any]], bool] = lambda _f: True,
           max_trials: int = 40, budget_s: float = 120.0) -> ShrinkResult:
    """The smallest plan found that still fails with ``kind`` (one of the original's);
    only failures ``relevant`` accepts count (those the baseline does not explain)."""
    def wanted(f: dict[str, Any]) -> bool:
        return f["kind"] == kind and relevant(f)

    first = next(f for f in original.failures if wanted(f))
    failing = {f["job"] for f in original.failures if wanted(f) and f.get("job")}
    budget = Budget(max_trials, budget_s)
    best, best_judgement = plan, original

    def reproduces(candidate: Plan) -> bool:
        nonlocal best, best_judgement
        budget.spend()
        candidate = _tighten(candidate)
        judgement = trial(candidate)
        if judgement is None or not any(wanted(f) for f in judgement.failures):
            return False
        if len(candidate.jobs) + len(candidate.faults) <= len(best.jobs) + len(best.faults):
            best, best_judgement = candidate, judgement
        return True

    try:
        if kind in ("lost", "crash") and plan.faults and not plan.extra.get("hold_workers"):
            held = replace(plan, extra={**plan.extra, "hold_workers": True})
            if reproduces(held):
                plan = held
        focus = [j for j in plan.jobs if j.token in failing][:3]
        if focus and reproduces(plan.subset(jobs=focus, note="the failing jobs only")):
            pass
        else:
            t_fail = float(first.get("t") or plan.seconds)
            upto = [j for j in plan.jobs if j.at <= t_fail + 0.2]
            later = [f for f in plan.faults if f.at > t_fail][:1]
            faults = [f for f in plan.faults if f.at <= t_fail] + later
            if len(upto) < len(plan.jobs) and upto:
                reproduces(plan.subset(jobs=upto, faults=faults, note="up to the failure"))
        current = best
        ddmin(list(current.jobs), lambda js: reproduces(
            current.subset(jobs=js, faults=list(current.faults))))
        current = best
        ddmin(list(current.faults), lambda fs: reproduces(current.subset(faults=fs)),
              keep_one=False)
        complete = True
    except OutOfBudget:
        complete = False
    return ShrinkResult(plan=best, judgement=best_judgement, trials=budget.trials,
                        complete=complete, kind=kind)
