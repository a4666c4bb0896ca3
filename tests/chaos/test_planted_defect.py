"""A planted defect is found and shrunk: the reference server started with
``--drop-on-restore 1`` loses the first job it restores from its queue file, so
one acknowledged background job disappears across a restart. The same plan
against the correct server loses nothing; against the planted one the checker
calls a job lost, the shrinker cuts the plan down to a handful of jobs and one
restart, and the reproducer (plan, README, YAML case) replays it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gearcheck.chaos.cells import CellSpec, play_cell
from gearcheck.chaos.plan import Plan, WorkloadShape, generate
from gearcheck.chaos.reproducer import yaml_case

PLANTED = ("--drop-on-restore", "1")


def _plan() -> Plan:
    # background jobs only, no epoch jobs or cancels, so the YAML case fits; one slow
    # worker, so jobs are still queued when the server is killed
    shape = WorkloadShape(rate=10.0, workers=1, slow_share=0.5, background_share=1.0,
                          epoch_share=0.0, cancel_share=0.0, big_share=0.0)
    return generate(3, 3.0, ["kill"], shape=shape, fault_gap=(1.0, 1.5))


@pytest.mark.slow
def test_a_job_dropped_across_a_restart_is_found_and_shrunk(tmp_path: Path) -> None:
    plan = _plan()
    assert plan.faults, "the plan restarts the server"
    clean = play_cell(CellSpec("refserver-sqlite", None, ("kill",)), seed=plan.seed,
                      seconds=plan.seconds, out_dir=tmp_path / "clean", known=[],
                      shrink_budget_s=0, finding_number=1, plan=plan)
    assert clean.judgement is not None and clean.gate.outcome == "PASS", clean.judgement.failures
    planted = play_cell(CellSpec("refserver-sqlite", None, ("kill",), server_args=PLANTED),
                        seed=plan.seed, seconds=plan.seconds, out_dir=tmp_path / "planted",
                        known=[], shrink_budget_s=150, finding_number=1, plan=plan)
    judgement = planted.judgement
    assert judgement is not None and planted.gate.outcome == "FAIL"
    assert judgement.counts["lost"] >= 1 and judgement.counts["duplicated"] == 0
    repro = planted.reproducer
    assert repro["kind"] == "lost"
    assert repro["faults"] == 1 and repro["jobs"] <= 3, repro["summary"]
    files = {Path(f).name for f in repro["files"]}
    assert {"plan.json", "README.txt", "history.jsonl", "GM-CHAOS-001.yaml"} <= files
    shrunk = Plan.load(Path(repro["dir"]) / "plan.json")
    assert [f.nemesis for f in shrunk.faults] == ["kill"]
    case = yaml.safe_load((Path(repro["dir"]) / "GM-CHAOS-001.yaml").read_text())
    assert case["servers"] == {"s": {"queue_backend": "sqlite"}}
    assert any("restart" in step for step in case["steps"])
    assert "--replay" in repro["command"]


@pytest.mark.slow
def test_the_yaml_reproducer_runs_in_the_conformance_suite(tmp_path: Path) -> None:
    plan = Plan.load(_saved_plan(tmp_path))
    case = yaml_case(plan, number=7, kind="lost", target="refserver-sqlite", backend="sqlite",
                     detail="planted")
    assert case is not None
    path = tmp_path / "GM-CHAOS-007.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "gearcheck", "conformance", "--server",
                           "refserver", "--out", str(tmp_path / "report"), str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [(c["case_id"], c["verdict"]) for c in report["results"]] == [("GM-CHAOS-007", "PASS")]


def _saved_plan(tmp_path: Path) -> Path:
    """A small background-only plan with one restart, as a shrunk reproducer would be."""
    full = _plan()
    jobs = [j for j in full.jobs if j.size <= 4096][:3]
    path = tmp_path / "plan.json"
    full.subset(jobs=jobs, faults=list(full.faults[:1])).save(path)
    return path
