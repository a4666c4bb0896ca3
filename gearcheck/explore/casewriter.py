"""A finding as a conformance case: the shrunk sequence in the suite's YAML format.

Strategy: the case replays the sequence with the same actors, and expects on
every step exactly what one server (the *expected* one: the first server of the
run, or for a broken invariant a server that kept it) said, so the case passes
there and fails on the server that diverged; adopting it into conformance/ is
a copy plus a real id and title. Observations are already in the case's words
(``${fn:f1}``, ``${uniq:u1}``, ``${h1}``), so the writer only chooses the step
form: ``send`` for packets, ``admin`` with a reply check (rows in any order,
restricted to this case's functions, handles or client ids), ``close``/``connect``
for disconnects (a ``wait_until`` on ``workers`` stands in for the explorer's
own synchronisation), ``sleep`` for pauses. A handle is captured where it first
appears. At the step that diverges every differing actor gets an
``expect_silence`` after what the expected server said, so extra packets on
the other server fail too, and the step's ``note`` says which server said what.
"""

from __future__ import annotations

import re
from typing import Any

from ..engine.probe import KNOWN_CAPABILITIES
from .compare import render
from .generator import ACTORS
from .model import Violation
from .names import HEX_PREFIX, id_symbol
from .normalize import Item
from .ops import PACKET_KINDS, Op
from .replay import Finding, Trace

SILENCE_S = 0.2
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_STATUS_FILTER = {"regex": "${fn}\\..*"}
_UNIQUE_FILTER = {"one_of": ["${uniq:u1}", "${uniq:u2}", "${uniq:u3}"]}


def value(text: str) -> Any:
    """An observation's text as a scenario value (hex where it is not UTF-8)."""
    if text.startswith(HEX_PREFIX):
        return {"hex": text[len(HEX_PREFIX):]}
    return text


def _regex_of(text: str) -> str:
    """A full-line regex for ``text``: placeholders kept (the engine escapes them), the rest
    escaped."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(text):
        out.append(re.escape(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(re.escape(text[pos:]))
    return "".join(out)


def _worker_row(row: str) -> dict[str, str]:
    """A normalized ``workers`` row ('* * ID : F1 F2') as a regex: any fd and address, the
    functions in any order."""
    tokens = row.split(" ")
    client_id, names = (tokens[2], tokens[4:]) if len(tokens) >= 4 else (row, [])
    looks = "".join(f"(?=.* {_regex_of(f)}( |$))" for f in names)
    return {"regex": f"[^ ]+ [^ ]+ {_regex_of(client_id)} :{looks}( [^ ]+){{{len(names)}}}"}


class CaseWriter:
    def __init__(self, trace: Trace, finding: Finding, expected: str, *, client_ids: bool,
                 mixed_admin: bool, sync_by_workers: bool, echo_fences: bool = True) -> None:
        self.trace = trace
        self.finding = finding
        self.expected = expected
        self.client_ids = client_ids
        self.mixed_admin = mixed_admin
        self.sync_by_workers = sync_by_workers
        self.echo_fences = echo_fences
        self.captured: set[str] = set()
        self.generation: dict[str, int] = dict.fromkeys(ACTORS, 0)
        self.had_noop: set[str] = set()
        self.requires: set[str] = set()
        self.uses_sync = False
        self.repairs: list[str] = []  # expectations corrected for a broken invariant
        steps = [st for st in trace.steps[:finding.step + 1] if not st.skipped]
        self.used = [a for a in ACTORS if any(st.op.actor == a or any(a in o for o in
                                                                   st.observations.values())
                                              for st in steps)]
        # client ids only where the case needs them: a `workers` listing, or a disconnect
        # that waits for the server to drop the connection
        if any(st.op.kind == "admin" and st.op.admin_words == "workers" for st in steps):
            self.id_actors = set(self.used)
        elif sync_by_workers:
            self.id_actors = {st.op.actor for st in steps if st.op.kind == "disconnect"}
        else:
            self.id_actors = set()

    # -- values -------------------------------------------------------------------
    def handle_of(self, op: Op) -> str:
        if op.bogus:
            return "${fn:nohandle}"
        return self.trace.handles.get(self.expected, {}).get(op.job, "${fn:nohandle}")

    def handle_matcher(self, text: str) -> Any:
        m = re.fullmatch(r"\$\{(h[0-9]+)\}", text)
        if m and m.group(1) not in self.captured:
            earlier = [f"${{{h}}}" for h in sorted(self.captured, key=lambda h: int(h[1:]))]
            self.captured.add(m.group(1))
            if earlier:  # a new handle: it must not be one the case has seen
                return {"capture": m.group(1), "not": {"one_of": earlier}}
            return {"capture": m.group(1)}
        if text.startswith("${h") and text.split("}")[0][2:] not in self.captured:
            return {"any": True}
        return value(text)

    def client_id(self, actor: str, suffix: str = "") -> str:
        return "${fn:" + id_symbol(actor, self.generation[actor], suffix) + "}"

    def wants_id(self, actor: str) -> bool:
        return self.client_ids and actor in self.id_actors and (actor[0] != "a"
                                                                or self.mixed_admin)

    # -- the steps of one operation ---------------------------------------------------
    def send_args(self, op: Op) -> dict[str, Any]:
        p = op.packet
        if op.kind == "submit":
            args: dict[str, Any] = {"function": f"${{fn:{op.fn}}}",
                                    "unique": f"${{uniq:{op.unique}}}" if op.unique not in
                                    ("", "-") else op.unique}
            if p == "SUBMIT_JOB_EPOCH":
                args["epoch"] = f"${{epoch:{op.epoch:+d}}}"
            if "REDUCE" in p:
                args.update(reducer=f"${{fn:{op.reducer}}}", aggregate="")
            args["data"] = op.data
            return args
        if op.kind in ("can_do", "cant_do"):
            return {"function": f"${{fn:{op.fn}}}"}
        if op.kind == "can_do_timeout":
            return {"function": f"${{fn:{op.fn}}}", "timeout": str(op.number)}
        if op.kind == "work":
            handle = self.handle_of(op)
            if p == "WORK_STATUS":
                return {"handle": handle, "numerator": str(op.number), "denominator": "4"}
            if p == "WORK_FAIL":
                return {"handle": handle}
            return {"handle": handle, "data": op.data}
        if op.kind == "get_status":
            return {"handle": self.handle_of(op)}
        if op.kind == "get_status_unique":
            return {"unique": f"${{uniq:{op.unique}}}"}
        if op.kind == "option":
            return {"option": op.text}
        if op.kind == "echo":
            return {"data": op.data}
        if op.kind == "set_client_id":
            return {"client_id": self.client_id(op.actor, op.text)}
        return {}

    def admin_command(self, op: Op) -> str:
        return op.text.format(fn=f"${{fn:{op.fn}}}", job=self.handle_of(op), number=op.number)

    def connect(self, actor: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.wants_id(actor):
            self.requires.add("packet:SET_CLIENT_ID")
            out.append({"send": {"on": actor, "packet": "SET_CLIENT_ID",
                                 "args": {"client_id": self.client_id(actor)}}})
        return out

    def operation(self, op: Op) -> list[dict[str, Any]]:
        self.requires |= op.capabilities() & KNOWN_CAPABILITIES
        if op.kind == "pause":
            return [{"sleep": op.seconds}]
        if op.kind == "disconnect":
            out: list[dict[str, Any]] = [{"close": op.actor}]
            if self.wants_id(op.actor) and self.sync_by_workers:
                self.uses_sync = True
                self.requires.add("admin:workers")
                out.append({"wait_until": {
                    "on": "sync", "command": "workers", "within": 5,
                    "reply": {"excludes": [{"regex": "[^ ]+ [^ ]+ " + _regex_of(
                        self.client_id(op.actor)) + " :.*"}]}}})
            else:
                out.append({"sleep": 0.1})
            return out
        if op.kind == "reconnect":
            self.generation[op.actor] += 1
            return [{"connect": op.actor}, *self.connect(op.actor)]
        if op.kind == "admin":
            return []  # written with its reply (admin_step)
        args = self.send_args(op)
        body: dict[str, Any] = {"on": op.actor, "packet": op.packet}
        if args:
            body["args"] = args
        return [{"send": body}]

    # -- what came back -------------------------------------------------------------------
    def expect(self, actor: str, item: Item) -> dict[str, Any] | None:
        kind = item[0]
        if kind == "closed":
            return {"expect_close": {"on": actor}}
        if kind in ("silent", "garbled", "barrier-echo") or kind.startswith("not sent"):
            return None
        if kind == "admin":
            return None
        name, _, magic = kind.partition("(")
        body: dict[str, Any] = {"on": actor, "packet": name}
        if magic:
            body["magic"] = "REQ"
        args = [a for a in item[1:] if not a.startswith(("extra=", "(arity"))]
        if len(args) == len(item) - 1:
            from ..protocol import spec_for

            names = spec_for(name).args
            matched: dict[str, Any] = {}
            for arg, text in zip(names, args, strict=False):
                matched[arg] = self.handle_matcher(text) if arg == "handle" else value(text)
            if matched:
                body["args"] = matched
        if name != "NOOP" and actor in self.had_noop:
            body["noise"] = ["NOOP"]
        if name == "NOOP":
            self.had_noop.add(actor)
        return {"expect": body}

    def admin_reply(self, command: str, item: Item, others: list[Item]) -> dict[str, Any]:
        lines = list(item[2:])
        if not lines or lines[-1] not in (".", "(no closing '.')"):
            return {"line": value(lines[0])} if len(lines) == 1 else {"count": len(lines)}
        rows = lines[:-1]
        words = command.split()
        if words[:1] in (["status"], ["prioritystatus"]):
            return {"filter": _STATUS_FILTER,
                    "rows_any_order": [[value(c) for c in r.split("\t")] for r in rows]}
        if words[:2] == ["show", "jobs"]:
            handles = sorted(self.captured, key=lambda h: int(h[1:]))
            if not handles:
                return {"count": {"min": 0}}
            return {"filter": {"one_of": [f"${{{h}}}" for h in handles]},
                    "rows_any_order": [[value(c) for c in r.split("\t")] for r in rows]}
        if words[:3] == ["show", "unique", "jobs"]:
            return {"filter": _UNIQUE_FILTER, "rows_any_order": [value(r) for r in rows]}
        if words[:1] == ["workers"]:
            spec: dict[str, Any] = {"sep": " "}
            if rows:
                spec["contains"] = [_worker_row(r) for r in rows]
            extra = sorted({r for o in others for r in o[2:-1] if r not in rows})
            if extra:
                spec["excludes"] = [_worker_row(r) for r in extra]
            return spec or {"count": {"min": 0}}
        return {"count": len(rows)}

    def admin_step(self, op: Op, items: tuple[Item, ...],
                   others: list[tuple[Item, ...]]) -> list[dict[str, Any]]:
        command = self.admin_command(op)
        reply = next((i for i in items if i[0] == "admin"), None)
        if reply is None:  # no (complete) reply: send the line and expect nothing
            return [{"send": {"on": op.actor, "line": command}},
                    {"expect_silence": {"on": op.actor, "for": SILENCE_S}}]
        other_replies = [i for o in others for i in o if i[0] == "admin"]
        body: dict[str, Any] = {"on": op.actor, "command": command,
                                "reply": self.admin_reply(command, reply, other_replies)}
        if op.eol != "\n":
            body["eol"] = op.eol
        return [{"admin": body}]

    # -- the whole case ----------------------------------------------------------------------
    def steps(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for actor in self.used:
            out += self.connect(actor)
        last = self.finding.step
        ran = [i for i, st in enumerate(self.trace.steps[:last + 1]) if not st.skipped]
        for index, step in enumerate(self.trace.steps[:last + 1]):
            if step.skipped:
                continue
            op = step.op
            following = next((self.trace.steps[i].op for i in ran if i > index), None)
            obs = step.observations[self.expected]
            silent: list[str] = []
            if index == last and self.finding.kind == "invariant":
                obs, silent = self.repaired(obs, step.violations.get(self.expected, []))
            others = {lane: o for lane, o in step.observations.items() if lane != self.expected}
            here: list[dict[str, Any]] = self.operation(op)
            order = [op.actor, *sorted(a for a in obs if a != op.actor)]
            if op.kind == "admin":
                here += self.admin_step(op, obs.get(op.actor, ()),
                                        [o.get(op.actor, ()) for o in others.values()])
            for actor in order:
                for item in obs.get(actor, ()):
                    if op.kind == "admin" and actor == op.actor and item[0] == "admin":
                        continue
                    expect = self.expect(actor, item)
                    if expect is not None:
                        here.append(expect)
            if following is not None:
                here += self.fence(op, obs, following)
            if index == last:
                here += self.divergent_tail(step.observations)
                here += [{"expect_silence": {"on": a, "for": SILENCE_S}} for a in silent]
                if here:
                    here[0] = {"note": self.note(step.observations), **here[0]}
            out += here
        return out

    def fence(self, op: Op, obs: dict[str, tuple[Item, ...]], following: Op,
              ) -> list[dict[str, Any]]:
        """Steps that make the server finish ``op`` before ``following`` is sent elsewhere.

        A request without a reply (CAN_DO, CANT_DO, PRE_SLEEP, a result the server takes
        silently) on one connection and the next request on another could be handled in
        either order; the explorer's barrier kept them apart, so the case does too: an
        ECHO round trip on the first connection (a short sleep where ECHO is not there)."""
        if op.kind not in PACKET_KINDS or following.actor == op.actor or obs.get(op.actor):
            return []
        if not self.echo_fences:
            return [{"sleep": 0.05}]
        self.requires.add("packet:ECHO_REQ")
        return [{"send": {"on": op.actor, "packet": "ECHO_REQ", "args": {"data": "fence"}}},
                {"expect": {"on": op.actor, "packet": "ECHO_RES", "args": {"data": "fence"}}}]

    def repaired(self, obs: dict[str, tuple[Item, ...]], violations: list[Violation],
                 ) -> tuple[dict[str, tuple[Item, ...]], list[str]]:
        """Every server broke an invariant: expect what keeping it means where that is
        clear (no such packet, a fresh handle, a NOOP), and say so in ``repairs``."""
        out = {a: list(items) for a, items in obs.items()}
        silent: list[str] = []
        for v in violations:
            items = out.setdefault(v.actor.split(",")[0], [])
            if v.invariant in ("foreground-completes-once", "background-not-reported") \
                    and v.item in items:
                items.remove(v.item)
                silent.append(v.actor)
                self.repairs.append(f"{v.actor} must not get {' '.join(v.item)}")
            elif v.invariant == "handle-twice" and v.item[:1] == ("JOB_CREATED",) \
                    and v.item in items:
                fresh = f"${{h{max([int(h[1:]) for h in self.captured] or [0]) + 1}}}"
                items[items.index(v.item)] = ("JOB_CREATED", fresh)
                self.repairs.append(f"{v.actor} must get a handle no live job has")
            elif v.invariant == "sleeper-woken":
                items.append(("NOOP",))
                self.repairs.append(f"{v.actor.split(',')[0]} must be woken (NOOP)")
        return {a: tuple(i) for a, i in out.items() if i}, silent

    def divergent_tail(self, observations: dict[str, Any]) -> list[dict[str, Any]]:
        diff = self.finding.difference
        if diff is None:
            return []
        out: list[dict[str, Any]] = []
        mine = observations[self.expected]
        for actor in diff.actors:
            items = mine.get(actor, ())
            if items and items[-1][0] == "closed":
                continue
            if any(i[0] == "barrier-echo" for o in observations.values() for i in o.get(actor, ())):
                self.requires.add("packet:ECHO_REQ")
                out.append({"send": {"on": actor, "packet": "ECHO_REQ",
                                     "args": {"data": "gx-barrier"}}})
                out.append({"expect": {"on": actor, "packet": "ECHO_RES",
                                       "args": {"data": "gx-barrier"}}})
            else:
                out.append({"expect_silence": {"on": actor, "for": SILENCE_S}})
        return out

    def note(self, observations: dict[str, Any]) -> str:
        diff = self.finding.difference
        actors = diff.actors if diff is not None else sorted(
            {a for o in observations.values() for a in o})
        parts = []
        for actor in actors:
            said = "; ".join(f"{lane} said {render(observations[lane].get(actor, ()))}"
                             for lane in sorted(observations))
            parts.append(f"{actor}: {said}")
        return "HERE THE SERVERS DIFFER. " + " / ".join(parts)


def case_document(trace: Trace, finding: Finding, *, number: int, expected: str,
                  client_ids: bool, mixed_admin: bool, sync_by_workers: bool,
                  title: str, description: str, source: str,
                  echo_fences: bool = True) -> dict[str, Any]:
    writer = CaseWriter(trace, finding, expected, client_ids=client_ids,
                        mixed_admin=mixed_admin, sync_by_workers=sync_by_workers,
                        echo_fences=echo_fences)
    steps = writer.steps()
    if finding.kind == "invariant":
        description += (" Every server broke the invariant; the last step expects what keeping "
                        "it means: " + "; ".join(writer.repairs) + "." if writer.repairs else
                        " Every server broke the invariant and the case cannot say what keeping "
                        "it looks like: it records what they did; correct the last step before "
                        "adopting it.")
    actors = writer.used + (["sync"] if writer.uses_sync else [])
    return {
        "id": f"GM-EXPLORE-{number:03d}",
        "title": title,
        "level": "OBSERVED",
        "source": source,
        "description": description,
        "tags": ["explore", finding.kind],
        "requires": sorted(writer.requires),
        "actors": actors,
        "steps": steps,
    }
