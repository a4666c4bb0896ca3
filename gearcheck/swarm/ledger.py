"""The invariants under load: every background job executed exactly once, every
foreground submission exactly one final result.

Strategy: jobs are keyed by the handle the server gave them, because that is
what survives coalescing (several submissions with one unique share a handle
and one execution) and what both sides see: a client notes
(handle, job id) at JOB_CREATED, a worker notes (handle, job id) at
JOB_ASSIGN_UNIQ. Each process keeps only the entries since its last export;
the master merges them into ``Ledger`` and judges at the end:
  lost        background jobs created, never executed, and not still queued on
              the server (the server's final ``status`` says how many are);
              plus foreground submissions that never got a final result
  duplicated  executions beyond the first for one handle; plus foreground
              results that arrived for a handle with no submission waiting
  mismatched  a worker received a handle whose payload carries another
              job id than the one the client submitted under that handle
Foreground results are judged on the client (it holds the waiting
submissions), so only their counts travel.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class LedgerDelta:
    """What one process saw since its last export."""

    def __init__(self) -> None:
        self.created_bg: list[tuple[bytes, bytes]] = []
        self.executed: list[tuple[bytes, bytes, bool]] = []
        self.counts: Counter[str] = Counter()

    def export(self) -> dict[str, Any]:
        # Parallel columns (msgpack carries lists of bytes cheaply; no per-row
        # formatting or parsing: a bg run records one row per job).
        created = self.created_bg
        executed = self.executed
        out = {
            "created_bg": [[h for h, _ in created], [j for _, j in created]],
            "executed": [[h for h, _, _ in executed], [j for _, j, _ in executed],
                         b"".join(b"b" if bg else b"f" for _, _, bg in executed)],
            "counts": dict(self.counts),
        }
        self.created_bg = []
        self.executed = []
        self.counts = Counter()
        return out


class Ledger:
    """The merged view on the master (or the single local process)."""

    def __init__(self) -> None:
        self.created: dict[bytes, list[Any]] = {}  # handle -> [job id, submissions]
        self.executed: dict[bytes, list[Any]] = {}  # handle -> [job id, executions, bg]
        self.counts: Counter[str] = Counter()

    def merge(self, data: dict[str, Any]) -> None:
        created = self.created
        handles, jobs = data.get("created_bg") or ([], [])
        for handle, job in zip(handles, jobs, strict=True):
            entry = created.get(handle)
            if entry is None:
                created[handle] = [job, 1]
            else:
                entry[1] += 1
        executed = self.executed
        handles, jobs, kinds = data.get("executed") or ([], [], b"")
        for handle, job, kind in zip(handles, jobs, bytes(kinds), strict=True):
            entry = executed.get(handle)
            if entry is None:
                executed[handle] = [job, 1, kind == 98]  # b"b"
            else:
                entry[1] += 1
        self.counts.update(data.get("counts", {}))

    def verdict(self, queued_at_end: int = 0) -> dict[str, Any]:
        bg_jobs = len(self.created)
        bg_submissions = sum(e[1] for e in self.created.values())
        once = unexecuted = mismatched = 0
        for handle, (job, _n) in self.created.items():
            done = self.executed.get(handle)
            if done is None:
                unexecuted += 1
                continue
            if done[1] == 1:
                once += 1
            if done[0] != job:
                mismatched += 1
        duplicated_bg = sum(e[1] - 1 for h, e in self.executed.items()
                            if e[1] > 1 and e[2])
        duplicated_fg_exec = sum(e[1] - 1 for h, e in self.executed.items()
                                 if e[1] > 1 and not e[2])
        unknown_bg = sum(1 for h, e in self.executed.items() if e[2] and h not in self.created)
        c = self.counts
        lost_bg = max(0, unexecuted - queued_at_end)
        fg_lost = c["fg_pending_at_end"] + c["fg_timed_out"] + c["fg_connection_lost"]
        return {
            "background": {
                "submissions": bg_submissions, "jobs": bg_jobs,
                "coalesced_submissions": bg_submissions - bg_jobs,
                "executed_once": once, "not_executed": unexecuted,
                "still_queued_on_server": min(unexecuted, queued_at_end),
                "lost": lost_bg, "duplicated": duplicated_bg, "mismatched_job_id": mismatched,
                "executions_of_unknown_handles": unknown_bg,
                "abandoned_by_stopped_users": c["bg_abandoned"],
                "never_created": c["bg_never_created"], "rejected": c["submit_rejected"],
            },
            "foreground": {
                "submissions": c["fg_submitted"], "results": c["fg_results"],
                "complete": c["fg_complete"], "fail": c["fg_fail"],
                "exception": c["fg_exception"], "lost": fg_lost,
                "timed_out": c["fg_timed_out"], "duplicated": c["fg_duplicate_results"],
                "abandoned_by_stopped_users": c["fg_abandoned"],
                "progress_packets": c["fg_progress_packets"],
                "duplicated_executions": duplicated_fg_exec,
            },
            "workers": {
                "executions": sum(e[1] for e in self.executed.values()),
                "foreign_jobs": c["foreign_jobs"], "dropped_on_purpose": c["fault_dropped"],
                "duplicated_on_purpose": c["fault_duplicated"],
                "wakeups": c["worker_wakeups"],
            },
            "lost": lost_bg + fg_lost,
            "duplicated": duplicated_bg + c["fg_duplicate_results"] + duplicated_fg_exec,
        }
