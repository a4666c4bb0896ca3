"""The checker: a verdict for every acknowledged job, from the history alone.

Strategy (after Jepsen's total-queue checker, extended with what Gearman
adds): read the events, never the runner. A submission is acknowledged when
JOB_CREATED came back; refused when an ERROR came back (definitely not
queued, and a failure of its own: the workload only sends what a server must
take); unknown when its connection died first (ambiguous, counted apart,
executed or not). Acknowledged submissions that share a (handle,
incarnation) are one server job (the server coalesced their unique ids), and
so are a submission and the execution that carried its token under another
handle (a job replayed after a restart, with a newer submission coalesced
onto it). Each execution is tied to its submission by the token at the start
of the payload (or, for payloads too short to carry one, by the payload's
fingerprint).

Every acknowledged submission gets one verdict:
  recovered    owed, and its job ran (at least once, never again after a
               confirmed completion)
  lost         owed, and its job never ran (or, in the foreground, its client
               never got the result)
  duplicated   its job ran again after a worker's completion was confirmed
               (the ECHO behind WORK_COMPLETE came back)
  cancelled    cancelled with the admin command, or coalesced into a server job that
               was cancelled after it was acknowledged: not owed
  orphaned     a foreground job whose client went away: not owed
A background job is always owed; a foreground job only while its client
stays connected. Counted over executions and results:
  unexpected   an execution of nothing submitted, of a refused submission,
               or of a job after its cancel was acknowledged
  altered      an execution whose function, unique id or payload differ from
               what was submitted
  wrong_client a result that reached a client which did not submit that job
  priority     an execution that started while an acknowledged job of the
               same function with a higher priority had been waiting (since
               before the grab, in the same life of the server) and was only
               run later
  early        an epoch job run before its time
  refused      a valid submission answered with ERROR (a queue that cannot store
               it): the client knows, so nothing is lost, but the job never runs.
               Refusals while the queue's database is down (a db-* fault, and a
               second after it heals) are right, and counted apart as
               refused_in_fault
  retried      a job run again after a completion that was never confirmed
               (in flight at a kill): ambiguous, not a failure
And from the server's own events:
  crash        the job server exited while no fault was acting on it, or would
               not start again after one
The cell fails on any crash, lost, duplicated, unexpected, altered,
wrong_client, priority, early or refused; unknown, retried, cancelled and
orphaned are reported beside it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .history import Event

PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}
SLACK_S = 0.05            # clock slack between processes for ordering checks
EPOCH_TOLERANCE_S = 1.0   # epoch times are whole seconds
STORE_GRACE_S = 1.0       # after a database fault heals, refusals are still its doing
FAILURE_KINDS = ("crash", "lost", "duplicated", "unexpected", "wrong_client", "altered",
                 "priority", "early", "refused")   # most severe first
COUNTS = ("submitted", "acknowledged", "recovered", *FAILURE_KINDS, "unknown",
          "unknown_executed", "retried", "cancelled", "orphaned", "refused_in_fault",
          "executions")


@dataclass
class Submission:
    token: str
    t: float
    client: int
    inc: int
    fn: str
    uniq: str
    bg: bool
    prio: str
    epoch: int
    dd: str
    wall: float
    ack_t: float | None = None
    handle: str | None = None
    ack_inc: int | None = None
    refused: str = ""
    unknown: str = ""
    orphaned_t: float | None = None
    cancel_t: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def due_t(self) -> float:
        """When an epoch job may run, on the history's clock."""
        return self.t + (int(self.wall) + self.epoch - self.wall)


@dataclass
class Execution:
    t: float
    worker: str
    inc: int
    handle: str
    fn: str
    uniq: str
    job: str | None
    dd: str
    size: int = -1
    complete_t: float | None = None
    confirmed_t: float | None = None
    resolved: str | None = None     # the submission's token


@dataclass
class Judgement:
    counts: dict[str, int]
    failures: list[dict[str, Any]]
    verdicts: dict[str, str]          # token -> verdict, for acknowledged submissions

    @property
    def failed(self) -> bool:
        return any(self.counts[k] for k in FAILURE_KINDS)

    @property
    def verdict(self) -> str:
        return "FAIL" if self.failed else "PASS"

    def to_dict(self, max_failures: int = 50) -> dict[str, Any]:
        return {"verdict": self.verdict, "counts": self.counts,
                "failures": self.failures[:max_failures],
                "failures_left_out": max(0, len(self.failures) - max_failures)}


class _Groups:
    """Union-find over submission tokens: one group per server job."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _read(events: list[Event]) -> tuple[dict[str, Submission], list[Execution]]:
    subs: dict[str, Submission] = {}
    execs: list[Execution] = []
    open_exec: dict[tuple[str, str], Execution] = {}
    for e in events:
        kind = e["type"]
        if kind == "submit":
            subs[e["job"]] = Submission(
                token=e["job"], t=e["t"], client=e["client"], inc=e["inc"], fn=e["fn"],
                uniq=e["uniq"], bg=bool(e["bg"]), prio=e["prio"], epoch=int(e.get("epoch") or 0),
                dd=e.get("dd", ""), wall=float(e.get("wall", 0.0)))
        elif kind in ("ack", "refused", "unknown", "orphaned", "cancel", "result"):
            sub = subs.get(e.get("job") or "")
            if kind == "result":
                if sub is not None:
                    sub.results.append(e)
                continue
            if sub is None:
                continue
            if kind == "ack":
                sub.ack_t, sub.handle, sub.ack_inc = e["t"], e["handle"], e["inc"]
            elif kind == "refused":
                sub.refused = f"{e.get('code', '')}: {e.get('text', '')}"
            elif kind == "unknown":
                sub.unknown = e.get("why", "")
            elif kind == "orphaned":
                sub.orphaned_t = e["t"]
            elif kind == "cancel" and e.get("ok"):
                sub.cancel_t = e["t"]
        elif kind == "grab":
            ex = Execution(t=e["t"], worker=e["worker"], inc=e["inc"], handle=e["handle"],
                           fn=e["fn"], uniq=e["uniq"], job=e.get("job"), dd=e.get("dd", ""),
                           size=int(e.get("size", -1)))
            execs.append(ex)
            open_exec[(ex.worker, ex.handle)] = ex
        elif kind in ("complete", "confirmed"):
            ex_open = open_exec.get((e["worker"], e["handle"]))
            if ex_open is not None:
                if kind == "complete":
                    ex_open.complete_t = e["t"]
                else:
                    ex_open.confirmed_t = e["t"]
    return subs, execs


def check(events: list[Event]) -> Judgement:
    subs, execs = _read(events)
    counts = dict.fromkeys(COUNTS, 0)
    failures: list[dict[str, Any]] = []
    counts["submitted"] = len(subs)
    counts["executions"] = len(execs)
    subs_size = {e["job"]: int(e.get("size", -1)) for e in events if e["type"] == "submit"}

    def sub_size(sub: Submission) -> str:
        return _size(subs_size.get(sub.token))
    by_dd: dict[str, list[str]] = defaultdict(list)
    for sub in subs.values():
        by_dd[sub.dd].append(sub.token)

    def fail(kind: str, detail: str, **extra: Any) -> None:
        counts[kind] += 1
        failures.append({"kind": kind, "detail": detail, **extra})

    # -- tie executions to submissions ----------------------------------------------
    for ex in execs:
        if ex.job and ex.job in subs:
            ex.resolved = ex.job
        elif not ex.job:  # a payload too short for a token: its fingerprint and unique id
            same = [t for t in by_dd.get(ex.dd, [])
                    if len(by_dd[ex.dd]) == 1 or (subs[t].fn, subs[t].uniq) == (ex.fn, ex.uniq)]
            ex.resolved = same[0] if len(same) == 1 else None
    groups = _Groups()
    by_handle: dict[tuple[int, str], str] = {}
    for sub in subs.values():
        if sub.handle is not None and sub.ack_inc is not None:
            key = (sub.ack_inc, sub.handle)
            if key in by_handle:
                groups.union(by_handle[key], sub.token)
            else:
                by_handle[key] = sub.token
    for ex in execs:
        owner = by_handle.get((ex.inc, ex.handle))
        if ex.resolved and owner:
            groups.union(ex.resolved, owner)
        elif owner and not ex.resolved:
            ex.resolved = None  # executions are identified by their payload, not the handle
    cancelled_at: dict[str, float] = {}   # a cancel ends the server job for every member
    for sub in subs.values():
        if sub.cancel_t is not None:
            root = groups.find(sub.token)
            cancelled_at[root] = min(sub.cancel_t, cancelled_at.get(root, sub.cancel_t))
    for sub in subs.values():
        at = cancelled_at.get(groups.find(sub.token))
        if at is not None and sub.cancel_t is None and sub.ack_t is not None and sub.ack_t <= at:
            sub.cancel_t = at
    group_execs: dict[str, list[Execution]] = defaultdict(list)
    for ex in execs:
        if ex.resolved:
            group_execs[groups.find(ex.resolved)].append(ex)

    # -- executions on their own -------------------------------------------------------
    for ex in execs:
        ran = subs.get(ex.resolved or "")
        if ran is None:
            fail("unexpected", f"{ex.worker} ran a job that was never submitted "
                 f"(token {ex.job!r}, handle {_h(ex.handle)})", t=ex.t, job=ex.job)
            continue
        if ran.refused:
            fail("unexpected", f"{ran.token} ran although its submission was refused "
                 f"({ran.refused})", t=ex.t, job=ran.token)
        elif ran.cancel_t is not None and ex.t > ran.cancel_t + SLACK_S:
            fail("unexpected", f"{ran.token} ran {ex.t - ran.cancel_t:.2f}s after its cancel "
                 "was acknowledged", t=ex.t, job=ran.token)
        changes = []
        if ex.fn != ran.fn:
            changes.append(f"function {_b(ran.fn)} came back as {_b(ex.fn)}")
        if ran.uniq and ex.uniq != ran.uniq:
            changes.append(f"unique {_b(ran.uniq)} ({len(ran.uniq) // 2} B) came back as "
                           f"{_b(ex.uniq)} ({len(ex.uniq) // 2} B)")
        if ex.dd != ran.dd:
            changes.append(f"the payload changed ({_size(subs_size.get(ran.token))} sent, "
                           f"{_size(ex.size)} received)")
        if changes:
            fail("altered", f"{ran.token}: " + "; ".join(changes), t=ex.t, job=ran.token)
        if ran.epoch and ex.t < ran.due_t - EPOCH_TOLERANCE_S:
            fail("early", f"{ran.token} (epoch +{ran.epoch}s) ran {ran.due_t - ex.t:.1f}s "
                 "before its time", t=ex.t, job=ran.token)

    # -- acknowledged submissions ------------------------------------------------------
    store_down = _store_faults(events)
    verdicts: dict[str, str] = {}
    first_run: dict[str, float] = {}
    for root, runs in group_execs.items():
        runs.sort(key=lambda x: x.t)
        first_run[root] = runs[0].t
    for sub in subs.values():
        if sub.ack_t is None:
            if sub.refused and any(a <= sub.t <= b for a, b in store_down):
                counts["refused_in_fault"] += 1   # it could not store it, and said so: right
            elif sub.refused:
                mode = "background" if sub.bg else "foreground"
                if sub.epoch:
                    mode += f" epoch +{sub.epoch}s"
                fail("refused", f"{sub.token} ({mode}, function {_b(sub.fn)}, unique "
                     f"{_b(sub.uniq)}{_utf8(sub.uniq)}, {sub_size(sub)}) was refused: "
                     f"{sub.refused}", t=sub.t, job=sub.token)
            else:
                counts["unknown"] += 1
                if group_execs.get(groups.find(sub.token)):
                    counts["unknown_executed"] += 1
            continue
        counts["acknowledged"] += 1
        runs = group_execs.get(groups.find(sub.token), [])
        if sub.cancel_t is not None:
            verdicts[sub.token] = "cancelled"
            counts["cancelled"] += 1
            continue
        if not sub.bg and sub.orphaned_t is not None and not _completed_for(sub):
            verdicts[sub.token] = "orphaned"
            counts["orphaned"] += 1
            continue
        if not runs:
            verdicts[sub.token] = "lost"
            fail("lost", f"{sub.token} ({'background' if sub.bg else 'foreground'}, "
                 f"{sub.prio}, function {_b(sub.fn)}, unique {_b(sub.uniq)}) was acknowledged "
                 f"as {_h(sub.handle)} and never ran", t=sub.ack_t, job=sub.token)
            continue
        if not sub.bg and not _completed_for(sub):
            verdicts[sub.token] = "lost"
            fail("lost", f"{sub.token} (foreground) ran but its client, connected to the "
                 "end, never got WORK_COMPLETE", t=sub.ack_t, job=sub.token)
            continue
        again = _ran_again(runs)
        if again is not None:
            verdicts[sub.token] = "duplicated"
            first, second = again
            fail("duplicated", f"{sub.token} ran again at {second.t:.2f}s ({second.worker}, "
                 f"incarnation {second.inc}) after {first.worker} completed it at "
                 f"{first.t:.2f}s and the server confirmed it", t=second.t, job=sub.token)
            continue
        verdicts[sub.token] = "recovered"
        counts["recovered"] += 1
    for runs in group_execs.values():
        counts["retried"] += sum(1 for i, r in enumerate(runs) if i and
                                 runs[i - 1].complete_t is not None
                                 and runs[i - 1].confirmed_t is None)
    for e in events:
        if e["type"] == "server" and e.get("state") in ("crashed", "failed"):
            what = ("exited by itself" if e["state"] == "crashed"
                    else "would not start again")
            detail = str(e.get("detail") or e.get("how") or "")
            lines = [ln.strip() for ln in detail.splitlines() if "ERROR" in ln or "ssert" in ln]
            fail("crash", f"the job server {what} (incarnation {e.get('inc')}): "
                 + ("; ".join(lines[-2:]) if lines else detail[:200]), t=e["t"])
    _check_results(subs, events, fail)
    effective = {root: subs[runs[0].resolved].prio for root, runs in group_execs.items()
                 if runs[0].resolved}
    first_worker = {root: runs[0].worker for root, runs in group_execs.items()}
    _check_priority(subs, execs, groups, first_run, first_worker, effective, fail)
    return Judgement(counts=counts, failures=sorted(failures, key=lambda f: f.get("t") or 0),
                     verdicts=verdicts)


def _store_faults(events: list[Event]) -> list[tuple[float, float]]:
    """When the queue's database was down or stopped (a db-* fault), plus a second after."""
    windows: list[tuple[float, float]] = []
    started: dict[str, float] = {}
    for e in events:
        if e["type"] != "nemesis" or not str(e.get("name", "")).startswith("db-"):
            continue
        if e["phase"] == "start":
            started[e["name"]] = float(e["began"] if "began" in e else e["t"])
        elif e["name"] in started:
            windows.append((started.pop(e["name"]), float(e["t"]) + STORE_GRACE_S))
    windows += [(t, float("inf")) for t in started.values()]
    return windows


def _utf8(hexed: str) -> str:
    try:
        bytes.fromhex(hexed).decode("utf-8")
    except UnicodeDecodeError:
        return " (not UTF-8)"
    return ""


def _completed_for(sub: Submission) -> bool:
    return any(r.get("kind") == "WORK_COMPLETE" for r in sub.results)


def _ran_again(runs: list[Execution]) -> tuple[Execution, Execution] | None:
    """(a confirmed completion, a later start of the same job) if there is one."""
    confirmed: Execution | None = None
    for run in runs:
        if confirmed is not None and confirmed.confirmed_t is not None and \
                run.t > confirmed.confirmed_t + SLACK_S:
            return confirmed, run
        if run.confirmed_t is not None and confirmed is None:
            confirmed = run
    return None


def _check_results(subs: dict[str, Submission], events: list[Event], fail: Any) -> None:
    for e in events:
        if e["type"] != "result":
            continue
        sub = subs.get(e.get("job") or "")
        if sub is None:
            fail("wrong_client", f"client {e['client']} got {e['kind']} for "
                 f"{_h(e['handle'])}, a job it was not waiting for", t=e["t"])
            continue
        if e["kind"] != "WORK_COMPLETE":
            continue
        got = str(e.get("got", ""))
        ran = subs.get(got) if not got.startswith("~") else None
        if got.startswith("~") and sub.dd == got[1:]:
            ran = sub
        if ran is None or (ran.fn, ran.uniq) != (sub.fn, sub.uniq) or (
                not sub.uniq and ran is not sub):
            fail("wrong_client", f"client {e['client']} waiting for {sub.token} got the result "
                 f"of {got or 'nothing recognisable'}", t=e["t"], job=sub.token)


def _check_priority(subs: dict[str, Submission], execs: list[Execution], groups: _Groups,
                    first_run: dict[str, float], first_worker: dict[str, str],
                    effective: dict[str, str], fail: Any) -> None:
    """A submission coalesced into an existing job waits at that job's priority (the job
    that runs), not its own: ``effective`` is the priority of the job each group ran."""
    waiting: dict[str, list[Submission]] = defaultdict(list)
    for sub in subs.values():
        if sub.ack_t is not None and not sub.epoch and sub.cancel_t is None:
            waiting[sub.fn].append(sub)
    seen_groups: set[str] = set()
    for ex in sorted(execs, key=lambda x: x.t):
        ran = subs.get(ex.resolved or "")
        if ran is None:
            continue
        root = groups.find(ran.token)
        if root in seen_groups:
            continue  # only a job's first dispatch is judged
        seen_groups.add(root)
        rank = PRIORITY_RANK[ran.prio]
        for other in waiting[ran.fn]:
            other_prio = effective.get(groups.find(other.token), other.prio)
            if PRIORITY_RANK[other_prio] >= rank or other.ack_inc != ex.inc:
                continue
            assert other.ack_t is not None
            if other.ack_t > ex.t - SLACK_S:
                continue
            if other.orphaned_t is not None and other.orphaned_t < ex.t:
                continue
            started = first_run.get(groups.find(other.token))
            if started is None or started <= ex.t:
                continue
            # on one worker the order is certain; across workers allow for clock slack
            same_worker = first_worker.get(groups.find(other.token)) == ex.worker
            if not same_worker and started <= ex.t + SLACK_S:
                continue
            fail("priority", f"{ran.token} ({ran.prio}) was handed out at {ex.t:.2f}s while "
                 f"{other.token} ({other_prio}, same function, acknowledged at "
                 f"{other.ack_t:.2f}s) waited until {started:.2f}s", t=ex.t, job=ran.token)
            break


def _b(hexed: str) -> str:
    raw = bytes.fromhex(hexed)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"0x{raw[:16].hex()}{'...' if len(raw) > 16 else ''}"
    return repr(text if len(text) <= 48 else text[:45] + "...")


def _size(n: int | None) -> str:
    return f"{n} B" if n is not None and n >= 0 else "? B"


def _h(handle: str | None) -> str:
    return bytes.fromhex(handle).decode("latin-1") if handle else "?"
