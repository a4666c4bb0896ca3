"""Several servers' observations of one step: whether they differ, and the signature.

Strategy: two servers agree on a step when every actor's normalized arrivals
are equal. When they are not, the signature says *what kind* of difference it
is without the values that change from run to run: the operation that
triggered it (``grab GRAB_JOB``, ``admin cancel job``), then per differing
actor role either the shapes that differ (the arrival kinds each server gave,
``gearmand-1.1.20=WORK_FAIL+WORK_COMPLETE refserver=ERROR(JOB_NOT_FOUND)``) or,
when the shapes agree, the fields that differ (``JOB_ASSIGN.function,handle``,
``admin status: total``, or a one-line admin reply's values). Shrinking keeps a
sequence only while it reproduces the same signature, duplicates within a run
are reported once, and known divergences are matched against it. A
finding's context (its sequence's coarse features, ``ops.Op.features``) goes
alongside, so a known entry can require, say, two functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import PacketType, spec_for
from .normalize import Item, Observation
from .ops import Op, role_of

ADMIN_COLUMNS = {"status": ("total", "running", "workers"),
                 "prioritystatus": ("high", "normal", "low", "workers"),
                 "show jobs": ("retries", "ignored", "queued")}


@dataclass(frozen=True)
class Difference:
    """Actors whose arrivals differ, with each server's arrivals."""

    per_actor: tuple[tuple[str, tuple[tuple[str, tuple[Item, ...]], ...]], ...]

    def lanes_of(self, actor: str) -> dict[str, tuple[Item, ...]]:
        for a, per in self.per_actor:
            if a == actor:
                return dict(per)
        return {}

    @property
    def actors(self) -> list[str]:
        return [a for a, _ in self.per_actor]


def difference(observations: dict[str, Observation]) -> Difference | None:
    """None when every server said the same on every actor."""
    lanes = sorted(observations)
    actors = sorted({a for obs in observations.values() for a in obs})
    out = []
    for actor in actors:
        per = tuple((lane, observations[lane].get(actor, ())) for lane in lanes)
        if len({items for _, items in per}) > 1:
            out.append((actor, per))
    return Difference(tuple(out)) if out else None


def kind_of(item: Item) -> str:
    if item[0] == "ERROR" and len(item) > 1:
        return f"ERROR({item[1]})"
    if item[0] == "admin" and len(item) > 1:
        return "admin"
    return item[0]


def _admin_command(item: Item) -> str:
    words = [w for w in item[1].split() if "$" not in w and not w.isdigit()]
    two = words[:1] in (["show"], ["cancel"], ["create"], ["drop"])
    return " ".join(words[:3] if words[:2] == ["show", "unique"] else words[:2] if two
                    else words[:1])


def _admin_detail(items: dict[str, Item]) -> str:
    first = next(iter(items.values()))
    command = _admin_command(first)
    columns = ADMIN_COLUMNS.get(command)
    bodies = {lane: item[2:] for lane, item in items.items()}
    row_lists = list(bodies.values())
    list_reply = any(b and b[-1] == "." for b in row_lists)
    if not list_reply:
        return f"admin {command}: " + " ".join(f"{lane}={' | '.join(b) or 'nothing'}"
                                               for lane, b in bodies.items())
    keyed = [{r.split("\t")[0]: r for r in b if r != "."} for b in row_lists]
    if len({frozenset(k) for k in keyed}) > 1 or columns is None:
        return f"admin {command}: rows"
    differ: set[str] = set()
    for key in keyed[0]:
        cells = [k[key].split("\t")[1:] for k in keyed]
        for i, name in enumerate(columns):
            if len({c[i] if i < len(c) else "" for c in cells}) > 1:
                differ.add(name)
    return f"admin {command}: " + ",".join(c for c in columns if c in differ)


def _fields_detail(items: dict[str, Item]) -> str:
    first = next(iter(items.values()))
    name = first[0]
    if first[0] == "admin":
        return _admin_detail(items)
    try:
        arg_names = list(spec_for(name.split("(")[0]).args)
    except KeyError:
        arg_names = []
    width = max(len(i) for i in items.values())
    differ = []
    for pos in range(1, width):
        values = {i[pos] if pos < len(i) else None for i in items.values()}
        if len(values) > 1:
            differ.append(arg_names[pos - 1] if pos - 1 < len(arg_names) else f"#{pos}")
    return f"{name}." + ",".join(sorted(differ))


def shape_text(kinds: tuple[str, ...]) -> str:
    """'WORK_FAIL*+JOB_CREATED': arrival kinds in order, a repeated kind once with '*'."""
    out: list[str] = []
    for kind in kinds:
        if out and out[-1].rstrip("*") == kind:
            out[-1] = kind + "*"
        else:
            out.append(kind)
    return "+".join(out) or "nothing"


def describe_actor(per: tuple[tuple[str, tuple[Item, ...]], ...]) -> str:
    """The signature part of one actor whose arrivals differ."""
    shapes = {lane: tuple(kind_of(i) for i in items) for lane, items in per}
    if len(set(shapes.values())) > 1:
        return " ".join(f"{lane}={shape_text(s)}" for lane, s in shapes.items())
    parts = []
    length = len(next(iter(shapes.values())))
    for pos in range(length):
        at = {lane: items[pos] for lane, items in per}
        if len(set(at.values())) > 1:
            parts.append(_fields_detail(at))
    return "; ".join(parts)


def signature(op: Op, diff: Difference) -> str:
    parts: list[str] = []
    for actor, per in diff.per_actor:
        part = f"{role_of(actor)}: {describe_actor(per)}"
        if part not in parts:
            parts.append(part)
    return f"{op.trigger()} -> " + " | ".join(parts)


def context(ops: list[Op]) -> list[str]:
    """The coarse features of a (shrunk) sequence, for known-divergence matching."""
    features: set[str] = set()
    known_functions: set[str] = set()
    for op in ops:
        features |= op.features()
        if op.kind == "admin" and op.admin_words == "maxqueue" and op.fn not in known_functions:
            features.add("maxqueue before the function exists")
        if op.kind in ("submit", "can_do", "can_do_timeout") or (
                op.kind == "admin" and op.admin_words == "create function"):
            known_functions.add(op.fn)
    functions = {op.fn for op in ops if op.kind == "submit"}
    features.add(f"functions:{len(functions)}")
    return sorted(features)


def render(items: tuple[Item, ...]) -> str:
    """Arrivals for people: 'JOB_ASSIGN ${h1} ${fn:f1} a; NOOP'."""
    if not items:
        return "nothing"
    return "; ".join(" ".join(repr(x) if (x == "" or "\0" in x) else x for x in i)
                     for i in items)


def is_packet_name(name: str) -> bool:
    return name.split("(")[0] in PacketType.__members__
