"""A chaos failure saved so anyone can replay it: the shrunk plan, its history, and a YAML case.

Strategy: ``plan.json`` is the exact plan (``gearcheck chaos ... --replay
plan.json`` plays it again), next to the history of the run that
reproduced it and a ``README.txt`` with the command and the checker's
findings. When the plan is small and simple enough for the scenario engine
(at most 8 background jobs with distinct unique ids and payloads up to
64 KiB, no epoch jobs or cancels, faults only of the kinds the engine can do:
a graceful or a kill -9 restart of the job server), it is also written as a
conformance case: submit every job, restart as the faults did, then one
worker per function must be handed as many jobs as were submitted, each one
of them with its function, unique id and payload intact, higher priorities
first (within one priority in any order, since a replay need not keep the
submission order), and then nothing more.
Copy it into conformance/ to make the finding a regression case.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml

from .checker import Judgement
from .plan import JobSpec, Plan

YAML_RESTARTS = {"kill": "kill", "stop": "graceful"}
MAX_YAML_JOBS = 8
MAX_YAML_PAYLOAD = 64 * 1024
SUBMIT = {"high": "SUBMIT_JOB_HIGH_BG", "normal": "SUBMIT_JOB_BG", "low": "SUBMIT_JOB_LOW_BG"}
RANK = {"high": 0, "normal": 1, "low": 2}


def replay_command(target: str, backend: str | None, plan_path: Path) -> str:
    words = ["gearcheck", "chaos", "--server", target]
    if backend:
        words += ["--backend", backend]
    words += ["--replay", str(plan_path)]
    return " ".join(shlex.quote(w) for w in words)


def yaml_case(plan: Plan, *, number: int, kind: str, target: str, backend: str | None,
              detail: str) -> dict[str, Any] | None:
    """The plan as a conformance case, or None when it does not fit the engine."""
    jobs = sorted(plan.jobs, key=lambda j: j.at)
    if not jobs or len(jobs) > MAX_YAML_JOBS:
        return None
    if any(not j.background or j.epoch_delay or j.cancel or j.size > MAX_YAML_PAYLOAD
           for j in jobs):
        return None
    keys = [(j.function, j.unique) for j in jobs if j.unique]
    if len(keys) != len(set(keys)) or any(f.nemesis not in YAML_RESTARTS for f in plan.faults):
        return None
    config: Any = {"queue_backend": backend} if backend else "default"
    steps: list[dict[str, Any]] = []
    faults = sorted(plan.faults, key=lambda f: f.at)
    for i, job in enumerate(jobs):
        while faults and faults[0].at < job.at:
            steps.append({"restart": {"server": "s", "how": YAML_RESTARTS[faults.pop(0).nemesis]}})
            steps.append({"connect": {"name": "client", "server": "s"}})
        steps.append({"send": {"on": "client", "packet": SUBMIT[job.priority],
                               "args": {"function": _value(job.function),
                                        "unique": _value(job.unique),
                                        "data": _value(job.payload())}}})
        steps.append({"expect": {"on": "client", "packet": "JOB_CREATED",
                                 "args": {"handle": {"capture": f"h{i}"}}}})
    for fault in faults:
        steps.append({"restart": {"server": "s", "how": YAML_RESTARTS[fault.nemesis]}})
    functions = sorted({j.function for j in jobs}, key=lambda f: [j.function for j in jobs]
                       .index(f))
    workers = {f: f"worker{n}" for n, f in enumerate(functions)}
    steps.append({"connect": [{"name": w, "server": "s"} for w in workers.values()]})
    for function, worker in workers.items():
        steps.append({"send": {"on": worker, "packet": "CAN_DO",
                               "args": {"function": _value(function)}}})
        mine = [j for j in jobs if j.function == function]
        n = 0
        for priority in ("high", "normal", "low"):
            level = [j for j in mine if j.priority == priority]
            for _ in level:  # in priority order; within one priority in any order
                steps.append({"send": {"on": worker, "packet": "GRAB_JOB_UNIQ"}})
                args: dict[str, Any] = {"handle": {"capture": f"{worker}_h{n}"},
                                        "function": _value(function),
                                        "data": _either([j.payload() for j in level])}
                if all(j.unique for j in level):
                    args["unique"] = _either([j.unique for j in level])
                steps.append({"expect": {"on": worker, "packet": "JOB_ASSIGN_UNIQ",
                                         "args": args, "noise": ["NOOP"], "timeout": 5}})
                steps.append({"send": {"on": worker, "packet": "WORK_COMPLETE",
                                       "args": {"handle": f"${{{worker}_h{n}}}", "data": ""}}})
                n += 1
        steps.append({"send": {"on": worker, "packet": "GRAB_JOB_UNIQ"}})
        steps.append({"expect": {"on": worker, "packet": "NO_JOB", "noise": ["NOOP"]}})
    where = f"{target} with the {backend} queue" if backend else target
    return {
        "id": f"GM-CHAOS-{number:03d}",
        "title": f"chaos finding {number}: {kind} on {where}"
                 + (f" across {len(plan.faults)} restart(s)" if plan.faults else ""),
        "level": "MUST",
        "source": "gearcheck chaos (shrunk from a randomized run): every acknowledged "
                  "background job runs once, intact, in priority order",
        "description": f"Seed {plan.seed}, shrunk to {len(jobs)} job(s) and "
                       f"{len(plan.faults)} fault(s). {detail}",
        "tags": ["chaos", "durability", kind],
        "requires": ["packet:GRAB_JOB_UNIQ", *sorted({f"packet:{SUBMIT[j.priority]}"
                                                       for j in jobs})],
        "servers": {"s": config},
        "actors": [{"name": "client", "server": "s"}],
        "steps": steps,
    }


def _either(values: list[bytes]) -> Any:
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return {"equals": _value(distinct[0])}
    return {"one_of": [{"equals": _value(v)} for v in distinct]}


def _value(raw: bytes) -> Any:
    """A YAML value for bytes: text when it is plain printable UTF-8, else hex."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}
    if text.isprintable() and "$" not in text and "\\" not in text:
        return text
    return {"hex": raw.hex()}


def save(out_dir: Path, *, number: int, kind: str, plan: Plan, judgement: Judgement,
         target: str, backend: str | None, history: Path | None, trials: int,
         complete: bool, queue: str | None = None, server_args: tuple[str, ...] = ()
         ) -> list[str]:
    """Write the reproducer; ``backend`` is what was asked for on the command line,
    ``queue`` the back end the server really ran (a registry variant has its own)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "plan.json"
    plan.save(plan_path)
    written = [str(plan_path)]
    if history is not None and history.exists():
        (out_dir / "history.jsonl").write_bytes(history.read_bytes())
        written.append(str(out_dir / "history.jsonl"))
    first = next((f for f in judgement.failures if f["kind"] == kind),
                 {"kind": kind, "detail": ""})
    lines = [f"chaos finding {number}: {kind}",
             f"target: {target}" + (f", back end {backend}" if backend else ""),
             f"seed {plan.seed}; shrunk to {len(plan.jobs)} job(s) and {len(plan.faults)} "
             f"fault(s) in {trials} trial(s){'' if complete else ' (budget ran out)'}",
             "", "replay:", "  " + replay_command(target, backend, plan_path)
             + (f"   (the server also had: {' '.join(server_args)})" if server_args else ""),
             "",
             "faults: " + (", ".join(f"{f.nemesis} at {f.at:.2f}s for {f.duration:.2f}s"
                                     for f in plan.faults) or "none"),
             "jobs: " + ", ".join(_describe(j) for j in plan.jobs[:12])
             + (" ..." if len(plan.jobs) > 12 else ""),
             "", "checker:", json.dumps(judgement.counts), ""]
    lines += [f"  {f['kind']}: {f['detail']}" for f in judgement.failures[:20]]
    (out_dir / "README.txt").write_text("\n".join(lines) + "\n")
    written.append(str(out_dir / "README.txt"))
    case = yaml_case(plan, number=number, kind=kind, target=target, backend=queue or backend,
                     detail=str(first["detail"]))
    if case is not None:
        case_path = out_dir / f"GM-CHAOS-{number:03d}.yaml"
        case_path.write_text("# yaml-language-server: $schema=../../../../conformance/"
                             "scenario.schema.json\n"
                             + yaml.safe_dump(case, sort_keys=False, width=100,
                                              allow_unicode=True))
        written.append(str(case_path))
    return written


def _describe(job: JobSpec) -> str:
    mode = "bg" if job.background else "fg"
    return (f"{job.token} {mode}/{job.priority} fn={job.function[:24]!r} "
            f"uniq={job.unique[:24]!r} {job.size} B")
