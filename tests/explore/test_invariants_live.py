"""The model's invariants on real servers, one server at a time, from fixed sequences.

gearmand 1.1.20 breaks two invariants in ways the suite knows (a cancelled
job's client hears WORK_FAIL twice; a unique joins a dropped function's
orphaned job): the explorer flags both on gearmand alone and not on the
reference server. When every server breaks an invariant, the written case
expects what keeping it means, so it fails on the server that broke it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import yaml

from gearcheck.engine.loader import load_file
from gearcheck.engine.runner import run_case
from gearcheck.engine.timing import Timing
from gearcheck.explore.casewriter import case_document
from gearcheck.explore.lane import Lane
from gearcheck.explore.ops import Op
from gearcheck.explore.replay import Lockstep
from gearcheck.explore.run import Server
from gearcheck.targets import ProcessTarget

MakeServer = Callable[[ProcessTarget, str, str], Server]

CANCEL_TWICE = [
    Op(0, "submit", actor="c1", packet="SUBMIT_JOB", fn="f1", unique="u1", data="x"),
    Op(1, "admin", actor="adm", text="cancel job {job}", job=0),
    Op(2, "admin", actor="adm", text="cancel job {job}", job=0),
]
DROP_THEN_REUSE = [
    Op(0, "submit", actor="c1", packet="SUBMIT_JOB", fn="f1", unique="u1", data="x"),
    Op(1, "admin", actor="adm", text="drop function {fn}", fn="f1"),
    Op(2, "submit", actor="c2", packet="SUBMIT_JOB_BG", fn="f2", unique="u1", data="y"),
]


def _alone(server: Server) -> Lockstep:
    """One lane; a namespace no other run on the shared session servers has used."""
    return Lockstep([Lane(server.label, server.address, server.profile)],
                    f"gx{uuid.uuid4().hex[:8]}")


def test_gearmand_alone_breaks_the_invariants_the_suite_knows(
        gearmand: ProcessTarget, refserver: ProcessTarget, explore_server: MakeServer) -> None:
    gd = explore_server(gearmand, "gearmand-1.1.20", "gearmand-1.1.20")
    ref = explore_server(refserver, "refserver", "refserver")
    for ops, invariant in ((CANCEL_TWICE, "foreground-completes-once"),
                           (DROP_THEN_REUSE, "handle-twice")):
        trace = _alone(gd).run(ops=ops)
        assert trace.finding is not None and trace.finding.kind == "invariant"
        assert trace.finding.step == 2
        assert f"invariant {invariant} broken on gearmand-1.1.20" in trace.finding.signature
        assert _alone(ref).run(ops=ops).finding is None


def test_a_case_for_an_invariant_every_server_broke_expects_it_kept(
        tmp_path: Path, gearmand: ProcessTarget, explore_server: MakeServer) -> None:
    gd = explore_server(gearmand, "gearmand-1.1.20", "gearmand-1.1.20")
    for n, ops in enumerate((CANCEL_TWICE, DROP_THEN_REUSE), start=1):
        trace = _alone(gd).run(ops=ops)
        assert trace.finding is not None
        doc = case_document(trace, trace.finding, number=n, expected=gd.label,
                            client_ids=True, mixed_admin=True, sync_by_workers=True,
                            title="t" * 5, description="found on gearmand alone",
                            source="test")
        assert "expects what keeping it means" in doc["description"]
        path = tmp_path / f"case{n}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        [scenario], errors = load_file(path)
        assert errors == []
        result = run_case(scenario, gd.address, run_id=f"gxinv{n}",
                          timing=Timing(default_timeout_s=0.5), profile=gd.profile)
        assert result.verdict.value == "FAIL", result.message
        assert result.failing_step == len(doc["steps"]) - 1 or "silence" in result.message \
            or "JOB_CREATED" in result.message
