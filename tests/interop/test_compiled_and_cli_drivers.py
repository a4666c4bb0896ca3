"""The drivers added for issue 15 (Go, Rust, Perl, the gearman tool, aiogear, gearman-java).

Every library of the registry is already client and worker of itself through
gearmand and the reference server in test_libraries_through_servers.py; here
each new library meets another language through gearmand, the harness plays
the server against each of them, and the defects docs/findings.md reports
are reproduced for real (each decides the same way on every run).
"""

from __future__ import annotations

import json
import time

import pytest

from gearcheck.interop import baselines, registry
from gearcheck.interop.cell import run_cell
from gearcheck.interop.driver import run_client
from gearcheck.interop.fake_server import load_scripts, play
from gearcheck.interop.registry import EXCLUDED, LIBRARIES
from gearcheck.interop.scenarios import load_all
from gearcheck.results import Verdict

SCENARIOS = {s.id: s for s in load_all()}
SCRIPTS = {s.id: s for s in load_scripts()}
NEW = ["gearman-go", "rustygear", "perl-gearman", "gearman-cli", "aiogear"]


@pytest.mark.parametrize(("scenario", "client", "worker"), [
    ("IOP-DATA-001", "gearman-go", "php-gearman"),     # Go client <- PHP worker: WORK_DATA
    ("IOP-STATUS-001", "php-gearman", "gearman-go"),   # PHP client <- Go worker: WORK_STATUS
    ("IOP-BG-001", "rustygear", "php-gearman"),        # Rust client polls GET_STATUS
    ("IOP-WARN-001", "perl-gearman", "gearman-go"),    # Perl client <- Go worker: WORK_WARNING
    ("IOP-DATA-001", "php-gearman", "perl-gearman"),   # PHP client <- Perl worker: WORK_DATA
    ("IOP-PRI-001", "gearman-cli", "php-gearman"),     # gearman -b -I/-L, priorities kept
    ("IOP-BIN-001", "php-gearman", "gearman-cli"),     # gearman -w passes bytes untouched
    ("IOP-EXC-001", "php-gearman", "aiogear"),         # aiogear worker: raise -> WORK_EXCEPTION
    ("IOP-RT-001", "php-gearman", "rustygear"),        # rustygear as the worker
    ("IOP-BG-001", "aiogear", "php-gearman"),          # aiogear as the client (no wait_job)
])
def test_new_libraries_across_languages(scenario: str, client: str, worker: str,
                                        gearmand) -> None:
    result = run_cell(SCENARIOS[scenario], LIBRARIES[client], LIBRARIES[worker], "gearmand",
                      gearmand.address)
    assert result.verdict is Verdict.PASS, result.message
    versions = {e.get("version") for run in result.evidence["clients"]
                for e in run["events"] if e["event"] == "start"}
    assert versions and None not in versions, "each driver names its library's version"


KNOWN = {("rustygear", "LIB-WORKER-001")}


@pytest.mark.parametrize(("name", "case"), [
    (n, c) for n in NEW for c in ("LIB-CLIENT-001", "LIB-WORKER-001") if (n, c) not in KNOWN])
def test_harness_as_server_drives_the_new_libraries(name: str, case: str) -> None:
    result = play(SCRIPTS[case], LIBRARIES[name])
    assert result.verdict is Verdict.PASS, result.message
    assert [e for e in result.transcript if e.direction == "recv"], "the library sent packets"


@pytest.mark.parametrize(("name", "case", "shows"), [
    # JOB_CREATED and WORK_COMPLETE in one read: the result reaches no caller
    ("rustygear", "LIB-CLIENT-013", "timeout"),
    ("aiogear", "LIB-CLIENT-013", "Unable to find handle"),
    # the next GRAB_JOB_UNIQ goes out before the WORK_COMPLETE of the job in hand
    ("rustygear", "LIB-WORKER-001", "GRAB_JOB_UNIQ"),
])
def test_known_library_bugs_against_the_scripted_server(name: str, case: str,
                                                        shows: str) -> None:
    result = play(SCRIPTS[case], LIBRARIES[name])
    assert result.verdict is Verdict.FAIL
    assert shows in result.message, result.message
    baselines.apply(result, baselines.load().as_server, {"library": name, "case": case})
    assert result.verdict is Verdict.XFAIL


def test_rustygear_worker_sends_work_fail_with_response_magic() -> None:
    result = play(SCRIPTS["LIB-WORKER-008"], LIBRARIES["rustygear"])
    assert result.verdict is Verdict.FAIL
    assert "RES" in result.message, result.message


def test_perl_worker_drops_the_work_status_denominator() -> None:
    result = play(SCRIPTS["LIB-WORKER-003"], LIBRARIES["perl-gearman"])
    assert result.verdict is Verdict.FAIL
    assert "WORK_STATUS" in result.message, result.message


def test_perl_worker_sends_an_empty_result_without_its_data_argument() -> None:
    result = play(SCRIPTS["LIB-WORKER-009"], LIBRARIES["perl-gearman"])
    assert result.verdict is Verdict.FAIL, result.message


def test_libraries_that_take_the_empty_result_fine() -> None:
    for name in ("gearman-go", "php-gearman"):
        result = play(SCRIPTS["LIB-WORKER-009"], LIBRARIES[name])
        assert result.verdict is Verdict.PASS, (name, result.message)


def test_gearman_java_client_never_reports_a_result(gearmand) -> None:
    """Kept out of the matrix (registry.EXCLUDED): the job is created, no result follows."""
    lib, why = EXCLUDED["gearman-java"]
    assert "100% CPU" in why
    registry.ensure_installed([lib])
    worker = LIBRARIES["gearman-go"]
    fn = f"gc.java.{time.monotonic_ns()}"
    from gearcheck.interop.driver import WorkerProcess, server_field
    srv = server_field(gearmand.address)
    with WorkerProcess(worker, {"server": srv, "functions": {fn: "echo"}, "timeout": 10}) as wp:
        assert wp.wait_for("ready", 1, 5)
        time.sleep(0.3)
        order = {"server": srv, "timeout": 3,
                 "jobs": [{"id": "j1", "function": fn, "payload": "aGk=", "priority": "normal"}]}
        run = run_client(lib, order, 6)
    kinds = [e["event"] for e in run.events]
    assert "created" in kinds, json.dumps(run.events)[:500]
    assert "complete" not in kinds, "gearman-java completed a job: take it out of EXCLUDED"
