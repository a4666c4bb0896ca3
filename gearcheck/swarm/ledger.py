"""The invariants under load, judged so that one faulty reply is blamed once.

Strategy: two sources of truth meet on the master. A worker reads the job id
(``gcj:<origin>:<seq>``) from every payload it runs, so its executions say
which submission a handle really belongs to. A client knows what it sent,
what it got back and what it gave up on. The client's live matching of
replies to submissions is only provisional where the protocol gives it no
key (JOB_CREATED carries a handle and nothing else; the FIFO order is the
match), so nothing the master concludes depends on that order being right:

  never_created   submissions still waiting for JOB_CREATED when the run
                  ended (counted by the client: its FIFO holds exactly one
                  entry per missing acknowledgement, whichever one it was)
  created, duplicated
                  JOB_CREATED with no submission left to acknowledge
  created, out_of_order
                  acknowledgements whose real submissions (from the
                  workers' executions) come back in another order than
                  they were sent, per connection; connections whose
                  submissions may coalesce are not checked (a coalesced
                  handle points at another, earlier submission)
  lost            a foreground job a worker executed whose result never came
                  (however the client gave up, unless a stopped user left
                  first: then it is ``abandoned_after_execution``); a
                  foreground job the server acknowledged and never ran nor
                  answered; a background job acknowledged, never executed
                  and not still queued on the server
  duplicated      executions beyond the first per handle; final results
                  with no submission left waiting for them
  abandoned       what a user stopped mid-run (a ramp-down, the UI) gave
                  up before it ran
The workers' own protocol checks (a GRAB_JOB_UNIQ never answered, a
JOB_ASSIGN for a job this connection already finished, a job found by a
worker that slept through its wake-up, a NOOP to a worker that was not
asleep) arrive as counts. ``verdict`` puts every kind that is not zero in
``defects``, so a report names what went wrong and nothing else.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

# Why a client stopped waiting for a submission (the ``gave_up`` export).
UNANSWERED = "unanswered"  # the run ended (the master's flush) and no reply had come
STOPPED = "stopped"  # the user was stopped mid-run
TIMED_OUT = "timed_out"  # job_timeout passed
CONNECTION_LOST = "connection_lost"

# Counters that are protocol defects on their own (each a row in ``defects``).
WORKER_DEFECTS = {
    "unanswered_grabs": "GRAB_JOB_UNIQ never answered (JOB_ASSIGN lost on its way?)",
    "duplicate_assignments": "JOB_ASSIGN for a job this worker had already finished",
    "missed_wakeups": "a sleeping worker found a job no NOOP had told it about",
    "unexpected_noops": "NOOP to a worker that was not asleep",
}


class AckBook:
    """One client user's acknowledgements since the last export, in arrival order.

    ``handles`` holds the handle of every JOB_CREATED; ``runs`` says which
    submissions the client matched them to, as [first seq, count, background]
    for consecutive ones (provisional: see the module docstring)."""

    __slots__ = ("closed", "coalescing", "handles", "origin", "runs")

    def __init__(self, origin: bytes, coalescing: bool) -> None:
        self.origin = origin
        self.coalescing = coalescing
        self.handles: list[bytes] = []
        self.runs: list[list[int]] = []
        self.closed = False

    def take(self) -> list[Any] | None:
        if not self.handles:
            return None
        out = [self.origin, self.coalescing, self.handles, self.runs]
        self.handles = []
        self.runs = []
        return out


class LedgerDelta:
    """What one process saw since its last export."""

    def __init__(self) -> None:
        self.executed: list[tuple[bytes, bytes, bool]] = []
        self.books: list[AckBook] = []
        self.gave_up: list[list[Any]] = []  # [reason, origin, [fg seqs]]
        self.counts: Counter[str] = Counter()

    def book(self, origin: bytes, coalescing: bool) -> AckBook:
        book = AckBook(origin, coalescing)
        self.books.append(book)
        return book

    def export(self) -> dict[str, Any]:
        # Parallel columns (msgpack carries lists of bytes cheaply; no per-row
        # formatting or parsing).
        executed = self.executed
        acks = [x for x in (b.take() for b in self.books) if x is not None]
        self.books = [b for b in self.books if not b.closed]
        out = {
            "executed": [[h for h, _, _ in executed], [j for _, j, _ in executed],
                         b"".join(b"b" if bg else b"f" for _, _, bg in executed)],
            "acks": acks,
            "gave_up": self.gave_up,
            "counts": dict(self.counts),
        }
        self.executed = []
        self.gave_up = []
        self.counts = Counter()
        return out


class Ledger:
    """The merged view on the master (or the single local process)."""

    def __init__(self) -> None:
        self.executed: dict[bytes, list[Any]] = {}  # handle -> [job id, executions, bg]
        self.acks: dict[bytes, list[Any]] = {}  # origin -> [coalescing, handles, runs]
        self.gave_up: list[list[Any]] = []
        self.counts: Counter[str] = Counter()

    def merge(self, data: dict[str, Any]) -> None:
        executed = self.executed
        handles, jobs, kinds = data.get("executed") or ([], [], b"")
        for handle, job, kind in zip(handles, jobs, bytes(kinds), strict=True):
            entry = executed.get(handle)
            if entry is None:
                executed[handle] = [job, 1, kind == 98]  # b"b"
            else:
                entry[1] += 1
        for origin, coalescing, ack_handles, runs in data.get("acks") or []:
            book = self.acks.get(origin)
            if book is None:
                book = self.acks[origin] = [coalescing, [], []]
            book[1].extend(ack_handles)
            book[2].extend(runs)
        self.gave_up.extend(data.get("gave_up") or [])
        self.counts.update(data.get("counts", {}))

    # -- judging -----------------------------------------------------------
    def _acknowledged(self) -> tuple[dict[bytes, int], int]:
        """(background handle -> acknowledgements, acknowledgements out of order)."""
        executed = self.executed
        bg_acks: dict[bytes, int] = {}
        out_of_order = 0
        for origin, (coalescing, handles, runs) in self.acks.items():
            prefix = origin + b":"
            cut = len(prefix)
            previous = -1
            i = 0
            for _first, count, background in runs:
                for _ in range(count):
                    handle = handles[i]
                    i += 1
                    done = executed.get(handle)
                    if done is not None:
                        background = done[2]
                        job = done[0]
                        if not coalescing and job.startswith(prefix):
                            true_seq = int(job[cut:])
                            if true_seq < previous:
                                out_of_order += 1
                            previous = true_seq
                    if background:
                        bg_acks[handle] = bg_acks.get(handle, 0) + 1
        return bg_acks, out_of_order

    def _foreground_given_up(self) -> Counter[str]:
        """Each foreground submission a client stopped waiting for, by what became of it."""
        ran = {e[0] for e in self.executed.values() if not e[2]}
        out: Counter[str] = Counter()
        for reason, origin, seqs in self.gave_up:
            for seq in seqs:
                executed = b"%s:%d" % (origin, seq) in ran
                if reason == STOPPED:
                    out["abandoned_after_execution" if executed else "abandoned"] += 1
                elif executed:
                    out["lost_after_execution"] += 1
                else:
                    out[f"not_executed_{reason}"] += 1
        return out

    def verdict(self, queued_at_end: int = 0) -> dict[str, Any]:
        c = self.counts
        bg_acks, out_of_order = self._acknowledged()
        executed = self.executed
        once = unexecuted = 0
        for handle in bg_acks:
            done = executed.get(handle)
            if done is None:
                unexecuted += 1
            elif done[1] == 1:
                once += 1
        duplicated_bg = sum(e[1] - 1 for e in executed.values() if e[1] > 1 and e[2])
        duplicated_fg_exec = sum(e[1] - 1 for e in executed.values() if e[1] > 1 and not e[2])
        unacknowledged_runs = sum(1 for h, e in executed.items() if e[2] and h not in bg_acks)
        lost_bg = max(0, unexecuted - queued_at_end)

        given_up = self._foreground_given_up()
        # A foreground submission with neither acknowledgement nor result that no worker
        # ran was never created (counted below), not lost.
        unanswered = given_up[f"not_executed_{UNANSWERED}"]
        unacked_fg = c[f"unacked_fg_{UNANSWERED}"]
        fg_lost_unrun = max(0, unanswered - unacked_fg)
        fg_lost = (given_up["lost_after_execution"] + fg_lost_unrun
                   + given_up[f"not_executed_{TIMED_OUT}"]
                   + given_up[f"not_executed_{CONNECTION_LOST}"])
        never_created = c[f"unacked_fg_{UNANSWERED}"] + c[f"unacked_bg_{UNANSWERED}"]
        bg_ack_count = sum(bg_acks.values())
        created = {
            "never_created": never_created,
            "duplicated": c["created_extra"],
            "out_of_order": out_of_order,
        }
        workers = {
            "executions": sum(e[1] for e in executed.values()),
            "foreign_jobs": c["foreign_jobs"], "dropped_on_purpose": c["fault_dropped"],
            "duplicated_on_purpose": c["fault_duplicated"],
            "wakeups": c["worker_wakeups"],
            **{k: c[k] for k in WORKER_DEFECTS},
        }
        foreground = {
            "submissions": c["fg_submitted"], "results": c["fg_results"],
            "complete": c["fg_complete"], "fail": c["fg_fail"],
            "exception": c["fg_exception"], "lost": fg_lost,
            "lost_after_execution": given_up["lost_after_execution"],
            "timed_out": given_up[f"not_executed_{TIMED_OUT}"],
            "connection_lost": given_up[f"not_executed_{CONNECTION_LOST}"],
            "duplicated_results": c["fg_duplicate_results"],
            "abandoned_by_stopped_users": given_up["abandoned"],
            "abandoned_after_execution": given_up["abandoned_after_execution"],
            "progress_packets": c["fg_progress_packets"],
            "duplicated_executions": duplicated_fg_exec,
        }
        background = {
            "submissions": c["bg_submitted"], "acknowledged": bg_ack_count,
            "jobs": len(bg_acks),
            "coalesced_submissions": max(0, bg_ack_count - len(bg_acks)),
            "executed_once": once, "not_executed": unexecuted,
            "still_queued_on_server": min(unexecuted, queued_at_end),
            "lost": lost_bg, "duplicated": duplicated_bg,
            "executed_without_acknowledgement": unacknowledged_runs,
            "abandoned_by_stopped_users": c[f"unacked_bg_{STOPPED}"],
            "connection_lost": c[f"unacked_bg_{CONNECTION_LOST}"],
            "rejected": c["submit_rejected"],
        }
        lost = lost_bg + fg_lost
        duplicated = duplicated_bg + c["fg_duplicate_results"] + duplicated_fg_exec
        defects = {
            "lost": lost, "duplicated": duplicated,
            "never_created": never_created,
            "duplicated_job_created": created["duplicated"],
            "job_created_out_of_order": out_of_order,
            **{k: c[k] for k in WORKER_DEFECTS},
        }
        return {
            "created": created, "foreground": foreground, "background": background,
            "workers": workers, "lost": lost, "duplicated": duplicated,
            "defects": {k: v for k, v in defects.items() if v},
            "protocol_defects": sum(v for k, v in defects.items()
                                    if k not in ("lost", "duplicated")),
        }
