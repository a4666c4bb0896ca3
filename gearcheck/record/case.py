"""Chosen connections of a trace as a conformance case in the suite's format.

Strategy: the records of the chosen connections, in time order, become
steps: what a connection sent is a ``send`` on its actor, what it received an
``expect`` (an admin command and its reply lines one ``admin`` step), a
connection opened after the first one a ``connect``, a half-close by the
peer a ``close`` and by the server an ``expect_close``. What differs from
one run to the next becomes a variable:
  handles           captured where the server first hands them out
                    (``{capture: h1}``), then ``${h1}`` wherever they recur;
  function names    ``${fn:NAME}``: unique to the run, so the case sees only
                    its own jobs and workers (as every suite case does);
  unique ids        ``${uniq:uN}``, one per distinct recorded id;
  epoch times       ``${epoch:+N}``, N the seconds ahead of the recording.
Payloads are kept as recorded (text, or hex for other bytes); a trace without
payloads sends ``{fill}`` of the recorded size and expects that length.
Where two connections' packets crossed, the server's answers to a worker's
grab (JOB_ASSIGN or NO_JOB) say which it handled first, and the grab is moved
to that place (``server_order``). Timing becomes tolerances: a wait that
took more than half the default
deadline in the recording gets a ``timeout`` of three times what it took
(plus a second), and a send that followed another actor's send with nothing
received between them waits the recorded gap first (``MIN_GAP`` at least,
``MAX_GAP`` at most), so the server sees them in the recorded order even
when they came within a millisecond of each other. A long payload that
repeats a short text is written as ``{fill, size}``. Admin listings are checked
for the case's own functions only (``status`` rows), and shape only
otherwise, since the rest is other clients' state. What cannot be replayed
(bytes the codec could not frame, from the server) is left out with a note.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..protocol import AdminReplyCollector, reply_is_list
from .trace import Record, Trace, decode_bytes

MIN_GAP = 0.01
MAX_GAP = 0.05
DEFAULT_DEADLINE = 2.0
FILL_FROM = 64  # a payload this long that repeats a short text is written as {fill, size}
_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_NAME_ARGS = {"function"}
_UNIQUE_ARGS = {"unique"}
_HANDLE_ARGS = {"handle"}
_HANDOUT = {"JOB_CREATED", "JOB_ASSIGN", "JOB_ASSIGN_UNIQ", "JOB_ASSIGN_ALL"}
_STATUS_COMMANDS = {"status", "prioritystatus"}


class CaseError(ValueError):
    """The chosen connections cannot make a case."""


@dataclass
class _Names:
    functions: dict[bytes, str] = field(default_factory=dict)
    uniques: dict[bytes, str] = field(default_factory=dict)
    handles: dict[bytes, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def function(self, value: bytes) -> str:
        if value not in self.functions:
            label = _LABEL.sub("_", value.decode("utf-8", "replace")).strip("_") or "f"
            taken = set(self.functions.values())
            name, i = f"${{fn:{label}}}", 2
            while name in taken:
                name, i = f"${{fn:{label}_{i}}}", i + 1
            self.functions[value] = name
        return self.functions[value]

    def unique(self, value: bytes) -> str:
        if value not in self.uniques:
            self.uniques[value] = f"${{uniq:u{len(self.uniques) + 1}}}"
        return self.uniques[value]


def parse_connections(text: str, available: list[int]) -> list[int]:
    """'1,3,5-7' -> [1, 3, 5, 6, 7], each one in the trace (CaseError otherwise)."""
    chosen: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                chosen += list(range(low, high + 1))
            else:
                chosen.append(int(part))
        except ValueError:
            raise CaseError(f"--connections {text!r}: {part!r} is not a number or a range "
                            f"(write e.g. 1,3,5-7)") from None
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise CaseError(f"--connections: the trace has no connection {missing} (it has "
                        f"{_ranges(available)})")
    return sorted(set(chosen))


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    for n in sorted(numbers):
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ",".join(out)


def _roles(trace: Trace, chosen: set[int]) -> dict[int, str]:
    kinds: dict[int, set[str]] = {c: set() for c in chosen}
    for r in trace.records:
        conn = r["conn"]
        if conn not in chosen or r.get("dir") != "to_server":
            continue
        ptype = r.get("type", "")
        if ptype.startswith("SUBMIT_") or ptype in ("GET_STATUS", "GET_STATUS_UNIQUE"):
            kinds[conn].add("client")
        elif ptype in ("CAN_DO", "CAN_DO_TIMEOUT", "GRAB_JOB", "GRAB_JOB_UNIQ",
                       "GRAB_JOB_ALL", "PRE_SLEEP"):
            kinds[conn].add("worker")
        elif "line" in r:
            kinds[conn].add("admin")
    names = {}
    for conn in sorted(chosen):
        k = kinds[conn]
        role = "worker" if "worker" in k else "client" if "client" in k else \
            "admin" if "admin" in k else "conn"
        names[conn] = f"{role}{conn}"
    return names


def build_case(trace: Trace, connections: list[int] | None = None, *,
               case_id: str = "GM-REPLAY-001", title: str | None = None) -> dict[str, Any]:
    available = trace.connections()
    if not available:
        raise CaseError(f"{trace.path}: the trace has no connection")
    chosen = connections or available
    actors = _roles(trace, set(chosen))
    names = _Names()
    records = server_order([r for r in trace.records if r["conn"] in actors])
    steps: list[dict[str, Any]] = []
    connected: set[str] = set()
    closed: set[str] = set()
    last_t = 0.0
    last_send: tuple[str, float] | None = None  # (actor, t) of a send nothing answered yet
    i = 0
    while i < len(records):
        r = records[i]
        actor = actors[r["conn"]]
        t = float(r["t"])
        event = r.get("event")
        if actor in closed:  # the case closed it: the server's own close follows from that
            i += 1
            continue
        if actor not in connected:
            steps.append({"connect": actor})
            connected.add(actor)
        if event is not None:
            if event == "eof":
                if r["dir"] == "to_server":
                    steps.append({"close": actor})
                    closed.add(actor)
                else:
                    steps.append({"expect_close": {"on": actor}})
            i += 1
            continue
        to_server = r["dir"] == "to_server"
        if to_server:
            if last_send is not None and last_send[0] != actor:
                gap = min(MAX_GAP, max(MIN_GAP, t - last_send[1]))
                steps.append({"sleep": round(gap, 3)})
            if "line" in r:
                admin_step, i = _admin(records, i, actor, names)
                steps.append(admin_step)
                last_send = None
                last_t = float(records[i - 1]["t"])
                continue
            sent = _send(r, actor, names, trace.start)
            if sent is not None:
                steps.append(sent)
                last_send = (actor, t)
        else:
            expected = _expect(r, actor, names)
            if expected is not None:
                wait = t - last_t
                if wait > DEFAULT_DEADLINE / 2:
                    expected["expect"]["timeout"] = math.ceil(wait * 3 + 1)
                steps.append(expected)
                last_send = None
        last_t = t
        i += 1
    shown = _ranges(sorted(actors))
    case: dict[str, Any] = {
        "id": case_id,
        "title": title or f"the exchange recorded on connection(s) {shown} replays the same "
                          f"way",
        "level": "OBSERVED",
        "source": f"gearcheck record: {trace.path}, connection(s) {shown}, recorded "
                  f"{trace.header.get('recorded_at', '?')}",
        "description": "Made by gearcheck replay-case. Handles are captured, function names "
                       "and unique ids are this run's own, waits are the recorded ones with "
                       "room to spare." + (" Notes: " + "; ".join(names.notes)
                                           if names.notes else ""),
        "tags": ["replay"],
        "steps": steps,
    }
    return case


_GRABS = {"GRAB_JOB", "GRAB_JOB_UNIQ", "GRAB_JOB_ALL"}


def server_order(records: list[Record]) -> list[Record]:
    """The records with each worker's grab moved to where the server answered it.

    The proxy sees when bytes pass, not the order in which a (multi-threaded)
    server handled two connections' packets that crossed; a grab's answer says
    it. JOB_ASSIGN for a job means the job's submission was handled first, so
    the grab (and what the worker did after it) goes after that job's
    JOB_CREATED. NO_JOB means the grab was
    handled before every submission (of the worker's functions) whose job was
    still waiting afterwards (assigned later, or never): the grab, its answer
    and the worker's sends before it go before the first of those sent since
    the worker last received something, and those sent before that go after
    the NO_JOB (with their sender's next sends, when it got nothing meanwhile).
    """
    out = list(records)
    created = _created_for(out)
    created_by_handle = {str(r["args"].get("handle")): r for r in created.values()
                         if r.get("type") == "JOB_CREATED"}
    assigned: dict[str, Record] = {}
    functions: dict[int, set[str]] = {}
    for r in out:
        if r.get("dir") == "to_client" and r.get("type") in _HANDOUT - {"JOB_CREATED"}:
            assigned.setdefault(str(r["args"].get("handle")), r)
        elif r.get("type") in ("CAN_DO", "CAN_DO_TIMEOUT") and r["dir"] == "to_server":
            functions.setdefault(r["conn"], set()).add(str(r["args"].get("function")))
    for grab in [r for r in out if r.get("type") in _GRABS and r["dir"] == "to_server"]:
        g = _index(out, grab)
        a = _answer(out, g)
        if a is None:
            continue
        answer = out[a]
        if answer["type"] == "NO_JOB":
            mine = functions.get(grab["conn"], set())

            def waiting(i: int, a: int = a, mine: set[str] = mine) -> bool:
                """A submission for the worker whose job still waited after the NO_JOB."""
                r = out[i]
                if (r.get("dir") != "to_server" or not r.get("type", "").startswith("SUBMIT_")
                        or str(r["args"].get("function")) not in mine
                        or created.get(id(r), {}).get("type") != "JOB_CREATED"):
                    return False
                job = assigned.get(str(created[id(r)]["args"].get("handle")))
                return job is None or _index(out, job) > a

            # What the worker received last stays put; its sends since then may move.
            before = max((i for i in range(g) if out[i]["conn"] == grab["conn"]
                          and out[i].get("dir") != "to_server"), default=-1)
            earlier = [out[i] for i in range(max(0, g - _LOOK_BACK), before + 1) if waiting(i)]
            later = [i for i in range(before + 1, g) if waiting(i)]
            if later:  # the grab (with the worker's sends before it) goes before them
                moving = [r for r in out[later[0]:g] if r["conn"] == grab["conn"]]
                for r in [*moving, grab, answer]:
                    out.remove(r)
                out[later[0]:later[0]] = [*moving, grab, answer]
            for submit in earlier:  # they go after the NO_JOB, if their sender allows it
                _after(out, submit, answer)
        else:
            job = created_by_handle.get(str(answer["args"].get("handle")))
            if job is not None and _index(out, job) > g:
                # The worker's records from the grab on follow it, in their order.
                moving = [r for r in out[g:_index(out, job)] if r["conn"] == grab["conn"]]
                for r in moving:
                    out.remove(r)
                c = _index(out, job)
                out[c + 1:c + 1] = moving
    return out


_LOOK_BACK = 400  # records searched before a grab for submissions it was handled before


def _after(out: list[Record], submit: Record, answer: Record) -> None:
    """Move ``submit`` (and its sender's sends up to what it receives next) after
    ``answer``, unless the sender received something in between."""
    s, a = _index(out, submit), _index(out, answer)
    conn = submit["conn"]
    block = []
    for k in range(s, a):
        r = out[k]
        if r["conn"] != conn:
            continue
        if r.get("dir") != "to_server":
            return  # its sender got an answer before the NO_JOB: leave it
        block.append(r)
    for r in block:
        out.remove(r)
    a = _index(out, answer)
    out[a + 1:a + 1] = block


def _index(records: list[Record], record: Record) -> int:
    for i, r in enumerate(records):
        if r is record:
            return i
    raise ValueError("record not in the list")


def _answer(records: list[Record], grab: int) -> int | None:
    """The index of the NO_JOB / JOB_ASSIGN* that answers the grab at ``grab``."""
    conn = records[grab]["conn"]
    for j in range(grab + 1, len(records)):
        r = records[j]
        if r["conn"] != conn:
            continue
        if r.get("dir") == "to_server" or "event" in r:
            return None  # pipelined or closed: leave it as it was
        if r.get("type") == "NOOP":
            continue
        return j if r.get("type") == "NO_JOB" or r.get("type") in _HANDOUT - {
            "JOB_CREATED"} else None
    return None


def _created_for(records: list[Record]) -> dict[int, Record]:
    """Each submission (by id) and the JOB_CREATED that answered it (FIFO per connection)."""
    waiting: dict[int, list[Record]] = {}
    out: dict[int, Record] = {}
    for r in records:
        if r.get("dir") == "to_server" and r.get("type", "").startswith("SUBMIT_"):
            waiting.setdefault(r["conn"], []).append(r)
        elif r.get("dir") == "to_client" and r.get("type") in ("JOB_CREATED", "ERROR"):
            queue = waiting.get(r["conn"])
            if queue:
                out[id(queue.pop(0))] = r
    return out


def _value(raw: Any, arg: str, names: _Names, *, sending: bool, epoch_base: float = 0.0,
           handout: bool = False) -> Any:
    """A recorded argument as a send value or a matcher."""
    data = decode_bytes(raw)
    if data is None:  # recorded without payloads: only the length is known
        size = int(raw["len"])
        return {"fill": "x", "size": size} if sending else {"len": size}
    if arg in _NAME_ARGS and data:
        return names.function(data)
    if arg in _UNIQUE_ARGS and data:
        return names.unique(data)
    if arg in _HANDLE_ARGS:
        bare = data.rstrip(b"\0")
        suffix = "\0" * (len(data) - len(bare))
        if bare in names.handles:
            return "${" + names.handles[bare] + "}" + suffix
        if handout and not sending and not suffix:
            var = names.handles[bare] = f"h{len(names.handles) + 1}"
            return {"capture": var}
        if bare:
            note = f"handle {bare.decode('utf-8', 'replace')!r} comes from a connection " \
                   f"not in the case; it is used as recorded"
            if note not in names.notes:
                names.notes.append(note)
    if arg == "epoch" and sending and data.isdigit() and epoch_base:
        return f"${{epoch:+{max(0, round(int(data) - epoch_base))}}}"
    for table in (names.uniques, names.functions):
        if data in table and arg == "data":
            return table[data]  # e.g. a worker that answers with the job's unique id
    return _literal(data, sending)


def _literal(data: bytes, sending: bool) -> Any:
    unit = _repeated_unit(data)
    if unit is not None:
        fill = {"fill": unit.replace("${", "$${"), "size": len(data)}
        return fill if sending else {"equals": fill}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": data.hex()}
    if not text.isprintable() and any(c not in "\t\n\r\0" for c in text if not c.isprintable()):
        return {"hex": data.hex()}
    return text.replace("${", "$${")


def _repeated_unit(data: bytes) -> str | None:
    """The short printable text ``data`` repeats (a filler payload), or None."""
    if len(data) < FILL_FROM:
        return None
    for size in range(1, 33):
        unit = data[:size]
        if (unit * (len(data) // size + 1))[:len(data)] == data:
            text = unit.decode("ascii", "replace")
            return text if text.isprintable() and text.encode() == unit else None
    return None


def _send(r: Record, actor: str, names: _Names, start: float) -> dict[str, Any] | None:
    if "type" not in r:
        if "raw" in r:
            return {"send": {"on": actor, "raw": r["raw"]}}
        names.notes.append(f"{actor} sent {r.get('raw_len', '?')} unframed byte(s) the trace "
                           f"kept only the length of; left out")
        return None
    args = {name: _value(v, name, names, sending=True, epoch_base=start + float(r["t"]))
            for name, v in r["args"].items()}
    body: dict[str, Any] = {"on": actor, "packet": r["type"], "args": args}
    if r.get("magic") == "RES":
        body["magic"] = "RES"
    return {"send": body}


def _expect(r: Record, actor: str, names: _Names) -> dict[str, Any] | None:
    if "type" not in r:
        what = "an admin line" if "line" in r else "bytes the codec could not frame"
        names.notes.append(f"{actor} received {what} outside an admin reply; left out")
        return None
    handout = r["type"] in _HANDOUT
    args = {name: _value(v, name, names, sending=False, handout=handout)
            for name, v in r["args"].items()}
    body: dict[str, Any] = {"on": actor, "packet": r["type"], "args": args}
    if r.get("magic") == "REQ":
        body["magic"] = "REQ"
    return {"expect": body}


def _admin(records: list[Record], i: int, actor: str,
           names: _Names) -> tuple[dict[str, Any], int]:
    """An admin command and its reply lines (the records right after it on its actor)."""
    command = (decode_bytes(records[i]["line"]) or b"").decode("utf-8", "replace")
    collector = AdminReplyCollector(command)
    conn = records[i]["conn"]
    j = i + 1
    while j < len(records) and not collector.done:
        r = records[j]
        if r["conn"] == conn:
            if r.get("dir") != "to_client" or "line" not in r:
                break
            collector.feed_line(decode_bytes(r["line"]) or b"")
        j += 1
    reply = _reply(command, collector, names)
    step: dict[str, Any] = {"on": actor, "command": command.replace("${", "$${")}
    if reply:
        step["reply"] = reply
    # Lines of other connections that came while the reply was read stay in order.
    rest = [r for r in records[i + 1:j] if r["conn"] != conn]
    del records[i + 1:j]
    records[i + 1:i + 1] = rest
    return {"admin": step}, i + 1


def _reply(command: str, collector: AdminReplyCollector, names: _Names) -> dict[str, Any]:
    lines = [x.decode("utf-8", "replace") for x in collector.lines]
    words = command.split()
    if not lines:
        return {}
    if not reply_is_list(command):  # a one-line reply
        line = lines[0]
        if line.startswith("ERR"):
            return {"line": line}
        if line.startswith("OK"):
            return {"line": {"regex": "OK.*"}}
        return {"line": {"regex": ".*"}}
    if lines[0].startswith("ERR"):
        return {"line": lines[0]}
    if words and words[0].lower() in _STATUS_COMMANDS:
        if not names.functions:
            return {"count": {"min": 0}}
        rows = []
        for row in collector.rows:
            cols = row.split(b"\t")
            if cols[0] in names.functions:
                rows.append([names.functions[cols[0]],
                             *(c.decode("utf-8", "replace") for c in cols[1:])])
        # Placeholders inside a regex are expanded as literal (escaped) text.
        return {"filter": {"regex": "(" + "|".join(names.functions.values()) + ")"},
                "rows_any_order": rows}
    return {"count": {"min": 0}}
