"""What a run left on the server, said once: the clean-up's totals and the functions still listed.

Strategy: every case's clean-up (engine.cleanup) records in its evidence what it
did; at the end of the run the process that owns it adds those up and, when the
server answers ``status`` (probe), reads it once and keeps the rows of the run's
own names (``gc.RUN.``...): the functions the run registered that the server
still lists. Each is attributed to its case (the name holds the case id), with
the server's refusal that case's clean-up recorded, or, for a server without
``drop function``, that one reason for all of them (never once per case). The
summary goes into report.json (``cleanup``) and the run's closing lines.
"""

from __future__ import annotations

from typing import Any

from ..engine.cleanup import owned
from ..engine.probe import CapabilityProfile
from ..protocol import printable
from ..results import CaseResult
from ..wire import Address, Connection, WireError

SHOWN_LEFT = 5  # functions named in the closing line (report.json has them all)


def run_namespace(run_id: str) -> bytes:
    return f"gc.{run_id}.".encode()


def listed_functions(address: Address, run_id: str, timeout: float = 5.0,
                     ) -> list[tuple[bytes, bytes]] | str:
    """(name, the rest of its ``status`` row) of every function of the run the server lists,
    or why it could not be read."""
    prefix = run_namespace(run_id)
    try:
        with Connection.open(address, timeout=timeout) as conn:
            lines = conn.admin("status", timeout=timeout)
    except (OSError, WireError) as exc:
        return f"the server's status could not be read after the run: {exc}"
    rows = [line.partition(b"\t") for line in lines if line.startswith(prefix)]
    return [(name, rest) for name, _, rest in rows]


def summarize(results: list[CaseResult], *, run_id: str, address: Address,
              profile: CapabilityProfile | None, enabled: bool) -> dict[str, Any]:
    """report.json's ``cleanup``: totals over the cases, and what the server still lists."""
    done = [(r.case_id, c) for r in results for c in r.evidence.get("cleanup", [])]
    summary: dict[str, Any] = {
        "enabled": enabled,
        "cases": len({case for case, _ in done}),
        "drained": sum(c.get("drained", 0) for _, c in done),
        "cancelled": sum(c.get("cancelled", 0) for _, c in done),
        "dropped": sum(c.get("dropped", 0) for _, c in done),
        "seconds": round(sum(c.get("seconds", 0.0) for _, c in done), 3),
        "problems": [{"case": case, "error": c["error"]} for case, c in done if "error" in c],
    }
    no_drop = profile is not None and not profile.supports("admin:drop function")
    if profile is not None and not profile.supports("admin:status"):
        summary["left_checked"] = False
        summary["left_unchecked_why"] = ("the server does not answer `status` (probe: "
                                         f"{profile.evidence('admin:status')})")
        return summary
    listed = listed_functions(address, run_id)
    if isinstance(listed, str):
        summary["left_checked"] = False
        summary["left_unchecked_why"] = listed
        return summary
    summary["left_checked"] = True
    if no_drop and listed:
        assert profile is not None
        summary["cannot_forget"] = ("the server has no `drop function` admin command, so the "
                                    "functions of this run that it lists stay there (probe: "
                                    f"{profile.evidence('admin:drop function')})")
    summary["left"] = [_explain(name, rest, results, run_id, summary) for name, rest in listed]
    return summary


def _explain(name: bytes, row: bytes, results: list[CaseResult], run_id: str,
             summary: dict[str, Any]) -> dict[str, Any]:
    shown = printable(name[:120]) + (f"... ({len(name)} bytes)" if len(name) > 120 else "")
    entry: dict[str, Any] = {"function": shown, "status": printable(row).replace("\\t", " ")}
    for result in results:
        if owned([name], f"gc.{run_id}.{result.case_id}".encode()):
            entry["case"] = result.case_id
            for done in result.evidence.get("cleanup", []):
                why = done.get("left", {}).get(shown)
                if why:
                    entry["reason"] = f"the server refused `drop function`: {why}"
            break
    if "reason" not in entry:
        entry["reason"] = ("the server cannot forget functions"
                           if "cannot_forget" in summary else
                           "not dropped by the clean-up" if summary["enabled"] else
                           "the run was told not to clean up (--no-cleanup)")
    return entry


def closing_lines(summary: dict[str, Any]) -> list[str]:
    """What the run says about its clean-up at the end: one line, two when something is left."""
    if not summary:
        return []
    lines = []
    if summary["enabled"]:
        lines.append(f"gearcheck: cleaned up after {summary['cases']} cases: "
                     f"{summary['drained']} job(s) drained, {summary['cancelled']} cancelled, "
                     f"{summary['dropped']} function(s) dropped "
                     f"({summary['seconds']:.2f} s summed over the cases)")
    left = summary.get("left", [])
    if summary.get("cannot_forget") and left:
        lines.append(f"gearcheck: {len(left)} function(s) of this run stay on the server: "
                     f"{summary['cannot_forget']}")
    elif left:
        named = "; ".join(f"{e['function']} [status {e.get('status', '?')}] "
                          f"({e.get('case', '?')}: {e['reason']})"
                          for e in left[:SHOWN_LEFT])
        more = f" and {len(left) - SHOWN_LEFT} more" if len(left) > SHOWN_LEFT else ""
        lines.append(f"gearcheck: left on the server: {len(left)} function(s): {named}{more}")
    if summary.get("left_checked") is False:
        lines.append(f"gearcheck: what the run left was not checked: "
                     f"{summary['left_unchecked_why']}")
    return lines
