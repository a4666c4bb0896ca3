"""Verdict of one interop run: did each side report what the scenario expects?

Strategy: per client process and per job, the expected rows must appear in
the driver's events in order (other events may come between). A row names
an event and optionally ``data`` (a payload spec, or ``$payload`` /
``$reverse`` for the job's own payload), ``numerator``/``denominator``
(compared as a ratio, since some libraries report status as a fraction) or
``known``. A row with ``tolerate: [other events]`` accepts those instead,
as NON-STRICT. ``every_job`` applies to jobs without their own rows.
``worker_jobs`` is the exact number of jobs the worker received and
``worker_order`` the payloads in the order it received them.

``follow_rows`` is the row walk itself, shared with the harness-as-server
player (gearcheck.interop.fake_server), which judges ``data`` with the
scenario engine's matchers instead of the payload specs used here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import printable
from ..results import FailureKind, Verdict
from .driver import DriverRun, unb64
from .scenarios import Instance, InteropScenario, payload_bytes


@dataclass
class Judgement:
    verdict: Verdict
    message: str
    failure_kind: FailureKind | None = None
    expected: Any = None
    actual: Any = None


def _expected_data(spec: Any, payload: bytes) -> bytes:
    if spec == "$payload":
        return payload
    if spec == "$reverse":
        return payload[::-1]
    if spec == "$upload":
        return b"uploaded:%d" % len(payload)
    return payload_bytes(spec)


DataCheck = Callable[[Any, bytes], bool]  # (row's data spec, reported bytes) -> matches?


def row_matches(row: dict[str, Any], event: dict[str, Any], data_ok: DataCheck) -> bool:
    if event.get("event") != row["event"]:
        return False
    if "data" in row and not data_ok(row["data"], unb64(event.get("data"))):
        return False
    if "known" in row and bool(event.get("known")) != bool(row["known"]):
        return False
    if "numerator" in row:
        try:
            want = float(row["numerator"]) / float(row["denominator"])
            got = float(event["numerator"]) / float(event["denominator"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return False
        if abs(want - got) > 1e-6:
            return False
    return True


def follow_rows(rows: list[dict[str, Any]], events: list[dict[str, Any]], data_ok: DataCheck,
                ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """Find ``rows`` in ``events`` in order (others may come between).

    Returns the tolerated substitutions as (event seen, event expected) and the
    first row that was not found (None when all were).
    """
    tolerated: list[tuple[str, str]] = []
    pos = 0
    for row in rows:
        found = next((i for i in range(pos, len(events))
                      if row_matches(row, events[i], data_ok)), None)
        if found is None:
            for alt in row.get("tolerate") or []:
                found = next((i for i in range(pos, len(events))
                              if events[i].get("event") == alt), None)
                if found is not None:
                    tolerated.append((alt, row["event"]))
                    break
        if found is None:
            return tolerated, row
        pos = found + 1
    return tolerated, None


def short_event(event: dict[str, Any]) -> str:
    text: str = str(event.get("event"))
    if event.get("data") is not None:
        data = unb64(event["data"])
        shown = printable(data[:40]) + (f"...({len(data)} bytes)" if len(data) > 40 else "")
        text += f"({shown})"
    if event.get("numerator") is not None:
        text += f"({event.get('numerator')}/{event.get('denominator')})"
    if event.get("message"):
        text += f"({str(event['message'])[:120]})"
    return text


def describe_row(row: dict[str, Any], show_data: Callable[[Any], str]) -> str:
    text = str(row["event"])
    if "data" in row:
        text += f"({show_data(row['data'])})"
    if "numerator" in row:
        text += f"({row['numerator']}/{row['denominator']})"
    if "known" in row:
        text += f"(known={row['known']})"
    return text


def judge(s: InteropScenario, inst: Instance, clients: list[DriverRun],
          worker: DriverRun | None) -> Judgement:
    non_strict: list[str] = []
    rows_by_job: dict[str, list[dict[str, Any]]] = s.expect.get("jobs") or {}
    every = s.expect.get("every_job")
    for ci, (run, order) in enumerate(zip(clients, inst.client_orders, strict=True)):
        by_job: dict[str, list[dict[str, Any]]] = {}
        for e in run.events:
            by_job.setdefault(str(e.get("job")), []).append(e)
        for job in order["jobs"]:
            jid = job["id"]
            rows = rows_by_job.get(jid, rows_by_job.get(jid.rsplit("-", 1)[0]) or every)
            if not rows:
                continue
            events = by_job.get(jid, [])
            payload = inst.payloads[jid]

            def data_ok(spec: Any, got: bytes, payload: bytes = payload) -> bool:
                return got == _expected_data(spec, payload)

            def show(spec: Any, payload: bytes = payload) -> str:
                data = _expected_data(spec, payload)
                return f"{printable(data[:40])}{'...' if len(data) > 40 else ''}"

            tolerated, row = follow_rows(rows, events, data_ok)
            non_strict += [f"client {ci} job {jid}: {alt} instead of {want}"
                           for alt, want in tolerated]
            if row is not None:
                got = [short_event(e) for e in events][:12]
                kind = FailureKind.MISMATCH
                if any(e.get("event") == "timeout" for e in events) or run.killed:
                    kind = FailureKind.TIMEOUT
                elif not events:
                    kind = FailureKind.TIMEOUT if run.killed else FailureKind.MISMATCH
                lead = f"client {ci} ({run.library}) job {jid}: expected " \
                       f"{describe_row(row, show)}"
                if not events:
                    tail = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
                    msg = f"{lead}, but the driver reported nothing for this job" + \
                        (f" (stderr: {tail[0][:200]})" if tail else "")
                else:
                    msg = f"{lead}, got {', '.join(got)}"
                return Judgement(Verdict.FAIL, msg, kind, describe_row(row, show), got)
    if worker is not None:
        jobs = worker.of("job")
        want = s.expect.get("worker_jobs")
        if want is not None and len(jobs) != int(want):
            return Judgement(Verdict.FAIL, f"worker ({worker.library}) received {len(jobs)} "
                             f"job(s), expected {want}", FailureKind.MISMATCH, want, len(jobs))
        received_order = s.expect.get("worker_order")
        if received_order is not None:
            got = [unb64(j.get("data")).decode("utf-8", "replace") for j in jobs]
            if got != list(received_order):
                return Judgement(Verdict.FAIL, f"worker ({worker.library}) received the jobs in "
                                 f"the order {got}, expected {list(received_order)}",
                                 FailureKind.MISMATCH, list(received_order), got)
    if non_strict:
        return Judgement(Verdict.NON_STRICT, "; ".join(non_strict))
    return Judgement(Verdict.PASS, "every expected event was reported")
