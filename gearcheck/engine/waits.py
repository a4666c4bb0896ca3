"""The receiving steps: expect, expect_all, expect_silence, expect_close.

Strategy: every wait has the same shape. The runtime gives a window (the
deadline scaled by the measured round trip, and a hard deadline after a grace
period); the step reads arrivals until the hard deadline and judges each one:
a match before the deadline succeeds, a match in the grace period is LATE,
nothing at all is TIMEOUT, the end of the stream is CLOSED, bytes that are not
Gearman framing are PROTOCOL, something else is MISMATCH (or UNEXPECTED where
silence was wanted). Packets named as noise, and packets the runtime handles
itself (``CaseRuntime.unsolicited``, a mirrored case's housekeeping), are
skipped. ``expect_all`` matches a set in any order across actors: arrivals
that match nothing yet are held and retried after each match (a capture may
make them match), and what is left over is given back to the actors.
"""

from __future__ import annotations

import time
from typing import Any

from ..protocol import Packet
from ..results import FailureKind
from ..wire import EndOfStream
from .actors import Actor, Arrival, Garbage, wait_readable
from .case_runtime import CaseRuntime
from .differences import Difference, one_line, packet_brief, packet_differences
from .matchers import undefined_references
from .outcome import StepFailure
from .packets import describe_expect, describe_item, expected_types, packet_matches


def late_failure(what: str, arrival_at: float, deadline: float, seconds: float,
          expected: Any, actual: Any) -> StepFailure:
    late_by = arrival_at - deadline
    return StepFailure(
        FailureKind.LATE,
        f"{what} arrived {late_by * 1000:.0f} ms after the {seconds:.2f} s deadline "
        f"(within the grace period)",
        expected=expected, actual=actual,
        evidence={"deadline_s": round(seconds, 4), "late_by_s": round(late_by, 4)})


def ended_failure(item: EndOfStream | Garbage, actor: Actor, expected: Any) -> StepFailure:
    if isinstance(item, EndOfStream):
        return StepFailure(FailureKind.CLOSED, f"{actor.name}: {actor.peer} closed the "
                           "connection", expected=expected, actual="connection closed")
    return StepFailure(FailureKind.PROTOCOL, f"{actor.name}: {actor.peer} sent bytes that are "
                       f"not Gearman framing: {item.error}", expected=expected,
                       actual={"garbage_hex": item.error.raw.hex(), "error": str(item.error)})


def step_expect(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    noise = set(body.get("noise", [])) | rt.noise
    expected = describe_expect(body, rt.variables, rt.expected_magic)
    deadline, hard, seconds = rt.window(body.get("timeout"))
    while True:
        arrival = rt.read(actor, hard)
        if arrival is None:
            raise StepFailure(FailureKind.TIMEOUT,
                              f"{actor.name}: nothing arrived within {seconds:.2f} s plus "
                              f"{hard - deadline:.2f} s grace",
                              expected=expected, actual="nothing")
        item = arrival.item
        if isinstance(item, (EndOfStream, Garbage)):
            raise ended_failure(item, actor, expected)
        captures = packet_matches(body, item, rt.variables, rt.expected_magic)
        if captures is not None:
            rt.commit(captures)
            if arrival.at > deadline:
                raise late_failure(f"{actor.name}: the expected packet", arrival.at, deadline,
                            seconds, expected, describe_item(item))
            return
        if isinstance(item, Packet) and item.name not in expected_types(body) \
                and (item.name in noise or rt.unsolicited(actor, item)):
            continue
        differences = packet_differences(body, item, rt.variables, rt.expected_magic)
        raise StepFailure(FailureKind.MISMATCH, f"{actor.name}: {one_line(differences)}",
                          expected=expected, actual=describe_item(item),
                          evidence={"differences": [d.to_dict() for d in differences]})


def step_expect_all(rt: CaseRuntime, body: list[dict[str, Any]]) -> None:
    remaining = list(range(len(body)))
    actors = {spec["on"]: rt.actor(spec["on"]) for spec in body}
    held: dict[str, list[Arrival]] = {name: [] for name in actors}
    late: list[tuple[int, float]] = []
    deadline, hard, seconds = rt.window(max((s.get("timeout") or 0 for s in body), default=0)
                                        or None)
    noise = set(rt.noise)
    for spec in body:
        noise |= set(spec.get("noise", []))

    def try_match(name: str, arrival: Arrival) -> bool:
        for idx in list(remaining):
            spec = body[idx]
            if spec["on"] != name or undefined_references(spec.get("args"), rt.variables):
                continue
            captures = packet_matches(spec, arrival.item, rt.variables, rt.expected_magic)
            if captures is not None:
                rt.commit(captures)
                remaining.remove(idx)
                if arrival.at > deadline:
                    late.append((idx, arrival.at))
                return True
        return False

    def retry_held() -> None:
        progress = True
        while progress:
            progress = False
            for name, arrivals in held.items():
                for arrival in list(arrivals):
                    if try_match(name, arrival):
                        arrivals.remove(arrival)
                        progress = True

    while remaining:
        live = [actors[body[i]["on"]] for i in remaining]
        ready = wait_readable(list({a.name: a for a in live}.values()), hard)
        if not ready and time.monotonic() >= hard:
            break
        for actor in ready:
            arrival = rt.read(actor, min(hard, time.monotonic() + 0.05))
            if arrival is None:
                continue
            if isinstance(arrival.item, (EndOfStream, Garbage)):
                if any(body[i]["on"] == actor.name for i in remaining):
                    raise ended_failure(arrival.item, actor,
                                 [describe_expect(body[i], rt.variables, rt.expected_magic)
                                  for i in remaining])
                continue
            if try_match(actor.name, arrival):
                retry_held()
            elif isinstance(arrival.item, Packet) and (arrival.item.name in noise
                                                       or rt.unsolicited(actor, arrival.item)):
                continue
            else:
                held[actor.name].append(arrival)
    if remaining:
        expected = [describe_expect(body[i], rt.variables, rt.expected_magic)
                    for i in remaining]
        unmatched = [a for arrivals in held.values() for a in arrivals]
        got = [describe_item(a.item) for a in unmatched]
        kind = FailureKind.MISMATCH if got else FailureKind.TIMEOUT
        differences = set_differences([body[i] for i in remaining], held, rt)
        raise StepFailure(kind, f"{len(remaining)} of {len(body)} expected packet(s) did not "
                          f"arrive within {seconds:.2f} s plus grace: "
                          + one_line(differences),
                          expected=expected, actual=got or "nothing",
                          evidence={"differences": [d.to_dict() for d in differences]})
    for name, arrivals in held.items():
        actors[name].unread(arrivals)
    if late:
        idx, at = max(late, key=lambda x: x[1])
        raise late_failure(f"expected packet #{idx + 1}", at, deadline, seconds,
                    describe_expect(body[idx], rt.variables, rt.expected_magic),
                    "on time for the others")


def set_differences(specs: list[dict[str, Any]], held: dict[str, list[Arrival]],
                    rt: CaseRuntime) -> list[Difference]:
    """For each expected packet of a set that did not come, how the nearest one that came on
    its connection differs (one of its type if any), or that nothing came there.

    The paths point into the failure's ``expected`` (the missing ones, in order) and
    ``actual`` (every packet held, in order)."""
    order = [a for arrivals in held.values() for a in arrivals]
    out: list[Difference] = []
    for n, spec in enumerate(specs):
        candidates = held.get(spec["on"], [])
        same = [a for a in candidates if isinstance(a.item, Packet)
                and a.item.name in expected_types(spec)]
        nearest = same[0] if same else candidates[0] if candidates else None
        if nearest is None:
            wanted = "/".join(expected_types(spec)) or "a line"
            out.append(Difference(spec["on"], wanted, "nothing", [n], []))
            continue
        index = next(i for i, a in enumerate(order) if a is nearest)
        for d in packet_differences(spec, nearest.item, rt.variables, rt.expected_magic):
            out.append(Difference(f"{spec['on']} {d.field}".rstrip(), d.expected, d.actual,
                                  [n, *d.expected_path], [index, *d.actual_path]))
    return out


def step_expect_silence(rt: CaseRuntime, body: dict[str, Any]) -> None:
    names = [body["on"]] if isinstance(body["on"], str) else body["on"]
    actors = [rt.actor(n) for n in names]
    window = rt.timing.silence(float(body.get("for", 0.2)))
    until = time.monotonic() + window
    while True:
        ready = wait_readable(actors, until)
        if not ready:
            return
        for actor in ready:
            arrival = rt.read(actor, min(until, time.monotonic() + 0.05))
            if arrival is None:
                continue
            item = arrival.item
            if isinstance(item, (EndOfStream, Garbage)):
                raise ended_failure(item, actor, f"silence on {actor.name} for {window:.2f} s")
            if isinstance(item, Packet) and (item.name in rt.noise
                                             or rt.unsolicited(actor, item)):
                continue
            raise StepFailure(FailureKind.UNEXPECTED,
                              f"{actor.name}: expected silence for {window:.2f} s, "
                              f"got {packet_brief(item)}",
                              expected=f"nothing on {actor.name} for {window:.2f} s",
                              actual=describe_item(item))
        if time.monotonic() >= until:
            return


def step_expect_close(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    noise = set(body.get("noise", [])) | rt.noise
    deadline, hard, seconds = rt.window(body.get("timeout"))
    expected = f"{actor.name}: the server closes the connection"
    while True:
        arrival = rt.read(actor, hard)
        if arrival is None:
            raise StepFailure(FailureKind.TIMEOUT, f"{actor.name}: the connection was still "
                              f"open after {seconds:.2f} s plus grace",
                              expected=expected, actual="connection open, nothing received")
        item = arrival.item
        if isinstance(item, EndOfStream):
            if arrival.at > deadline:
                raise late_failure(f"{actor.name}: the close", arrival.at, deadline, seconds,
                            expected, "closed")
            return
        if isinstance(item, Garbage):
            raise ended_failure(item, actor, expected)
        if isinstance(item, Packet) and item.name in noise:
            continue
        raise StepFailure(FailureKind.MISMATCH, f"{actor.name}: expected the connection to "
                          f"close, got {packet_brief(item)}", expected=expected,
                          actual=describe_item(item))
