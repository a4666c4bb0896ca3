"""YAML load profile -> validated, typed ``LoadProfile``.

Strategy: three passes, each failing with ``ProfileError("file:line: field: what")``.
1. YAML is composed into a node tree (kept for line numbers) and constructed
   into plain data; a syntax error reports the line PyYAML found.
2. The data is validated against profile.schema.json (jsonschema, draft
   2020-12); each error's JSON path is mapped back to the node that holds it,
   so the message points at the exact line. Errors are sorted by line.
3. Cross-field rules the schema cannot state (a foreground function no worker
   serves, stages vs duration, an open model without a rate) are checked and
   reported the same way, then units are parsed into seconds and bytes.

Open-model stages (a replayed workload, see gearcheck.swarm.replay): stages
that give ``rate`` (submissions per second over every client mix) instead of
users. Every client mix then has a fixed number of ``users`` and an
``arrival: {model: open, share: S}``; each stage's user count is their sum.
``speed`` multiplies every open-model arrival rate (``gearcheck load --speed``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..yaml_positions import field_path, line_of, load_documents, yaml_error_where
from .capacity import CapacitySettings, parse_slo
from .units import Distribution, parse_distribution, parse_duration, parse_size

PRIORITIES = ("high", "normal", "low")
OUTCOMES = ("complete", "fail", "exception")


class ProfileError(ValueError):
    """A profile that cannot be used; ``problems`` lists every 'file:line: ...' message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Stage:
    kind: str  # ramp | hold | spike
    users: int  # clients at the end of the stage (spike: during it)
    duration: float
    spawn_rate: float | None
    rate: float | None = None  # open-model stage: submissions/s at its end (spike: during it)


@dataclass(frozen=True)
class ClientMix:
    name: str
    weight: int
    functions: tuple[tuple[str, float], ...]
    background: float
    priorities: tuple[tuple[str, float], ...]
    unique_policy: str
    pool_size: int
    payload_bytes: Distribution
    in_flight: int
    open_model: bool
    rate: float  # arrivals per second per user (open model)
    poisson: bool
    late_after: float
    users: int | None = None  # a fixed number of users (rate stages)
    share: float = 0.0  # this mix's share of a rate stage's submissions
    payloads: tuple[bytes, ...] = ()  # recorded payloads, sent in order instead of sizes

    @property
    def function_names(self) -> list[str]:
        return [f for f, _ in self.functions]


@dataclass(frozen=True)
class WorkerMix:
    name: str
    count: int
    functions: tuple[str, ...]
    service_time: Distribution
    outcomes: tuple[tuple[str, float], ...]
    status_updates: int
    data_chunks: int
    result_bytes: int
    drop: float
    duplicate: float
    result_size: Distribution | None = None  # None: always result_bytes


@dataclass(frozen=True)
class LatencyThreshold:
    metric: str
    percentile: float
    max_seconds: float
    name: str | None  # a request name ("fn high fg"); None = every request

    def label(self) -> str:
        where = f"[{self.name}]" if self.name else ""
        return f"{self.metric}{where} p{self.percentile:g} <= {self.max_seconds * 1e3:g} ms"


@dataclass(frozen=True)
class Thresholds:
    latency: tuple[LatencyThreshold, ...] = ()
    max_error_ratio: float | None = None
    min_throughput: float | None = None
    max_lost: int | None = 0
    max_duplicated: int | None = 0
    max_late_ratio: float | None = None
    max_replay_deviation: float | None = None
    max_protocol_defects: int | None = 0


@dataclass(frozen=True)
class LoadProfile:
    name: str
    description: str
    path: str
    server: str | None
    stages: tuple[Stage, ...]
    spawn_rate: float
    drain_timeout: float
    job_timeout: float
    seed: int | None
    clients: tuple[ClientMix, ...]
    workers: tuple[WorkerMix, ...]
    thresholds: Thresholds
    capacity: CapacitySettings | None = None  # mode: capacity (``gearcheck capacity``)
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    speed: float = 1.0  # multiplies every open-model arrival rate
    recorded: dict[str, Any] | None = None  # a replayed workload's recorded figures

    @property
    def rate_stages(self) -> bool:
        """Open-model stages: the stages give submissions/s, the mixes their shares."""
        return bool(self.stages) and self.stages[0].rate is not None

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.stages)

    @property
    def worker_users(self) -> int:
        return sum(w.count for w in self.workers)

    @property
    def max_client_users(self) -> int:
        return max((s.users for s in self.stages), default=0)

    @property
    def functions(self) -> list[str]:
        names: list[str] = []
        for mix in self.clients:
            names += [f for f in mix.function_names if f not in names]
        for w in self.workers:
            names += [f for f in w.functions if f not in names]
        return names


def with_capacity(profile: LoadProfile, overrides: dict[str, Any]) -> LoadProfile:
    """The profile in capacity mode; ``overrides`` (slo text, start_rate, growth, step_s,
    refine, max_steps) replace the profile's own ``capacity:`` settings."""
    base = profile.capacity
    values: dict[str, Any] = {} if base is None else {
        "start_rate": base.start_rate, "growth": base.growth, "step_s": base.step_s,
        "refine": base.refine, "max_steps": base.max_steps, "slo": base.slo}
    for key, value in overrides.items():
        if value is not None:
            values[key] = parse_slo(value) if key == "slo" else value
    if "slo" not in values:
        raise ValueError("capacity mode needs an SLO (--slo \"result p99 < 10ms\" or "
                         "capacity: {slo: ...} in the profile)")
    return replace(profile, capacity=CapacitySettings(**values))


def with_duration(profile: LoadProfile, seconds: float) -> LoadProfile:
    """The same profile with every stage scaled so the load lasts ``seconds``."""
    factor = seconds / profile.duration if profile.duration else 1.0
    stages = tuple(replace(s, duration=s.duration * factor) for s in profile.stages)
    return replace(profile, stages=stages)


def with_speed(profile: LoadProfile, speed: float) -> LoadProfile:
    """The same profile played at ``speed`` times its open-model arrival rates.

    The windows of the mixes whose arrivals it speeds up grow with it, so as
    many jobs per second can be in flight; closed-model mixes are unchanged.
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, not {speed:g}")
    grow = max(1.0, speed / profile.speed)
    clients = tuple(replace(c, in_flight=max(c.in_flight, round(c.in_flight * grow)))
                    if c.open_model else c for c in profile.clients)
    return replace(profile, speed=speed, clients=clients)


def schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("profile.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_profile(path: str | Path) -> LoadProfile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError([f"{path}: cannot read the profile: {exc.strerror or exc}"]) from None
    return parse_profile(text, str(path))


def parse_profile(text: str, source: str = "<profile>") -> LoadProfile:
    try:
        documents = load_documents(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_where(exc)
        where = f"{source}:{line}" if line else source
        raise ProfileError([f"{where}: YAML syntax error: {problem}"]) from None
    if len(documents) > 1:
        raise ProfileError([f"{source}:{getattr(documents[1], 'line', 1)}: a profile is one "
                            f"YAML document, another one starts here"])
    data = documents[0] if documents else None
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        raise ProfileError([f"{source}:1: a profile is a mapping (name:, clients:, ...), "
                            f"not {kind}"])
    lines = _LineMap(data, source)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: lines.line(list(e.absolute_path)))
    if errors:
        raise ProfileError([lines.at(list(e.absolute_path), _describe(e)) for e in errors])
    return _build(data, lines, source)


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "oneOf" and error.context:
        # Name the alternative that came closest instead of "is not valid under any".
        best = jsonschema.exceptions.best_match(error.context)
        return f"{best.message}"
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        return f"{error.message}; allowed here: {', '.join(allowed)}"
    return error.message


class _LineMap:
    """Messages that name the file, line and field of a path in the loaded profile."""

    def __init__(self, data: Any, source: str) -> None:
        self.data = data
        self.source = source

    def line(self, path: list[Any]) -> int:
        return line_of(self.data, path) or 1

    def at(self, path: list[Any], message: str) -> str:
        where = field_path(path) if path else "(top level)"
        return f"{self.source}:{self.line(path)}: {where}: {message}"


def _build(data: dict[str, Any], lines: _LineMap, source: str) -> LoadProfile:
    problems: list[str] = []

    def convert(path: list[Any], fn: Any, value: Any) -> Any:
        try:
            return fn(value)
        except (ValueError, KeyError) as exc:
            problems.append(lines.at(path, str(exc)))
            return None

    stages = _stages(data, lines, problems, convert)
    clients = [_client(i, c, lines, problems, convert) for i, c in enumerate(data["clients"])]
    if any(s.rate is not None for s in stages):
        stages = _rate_stages(data, stages, clients, lines, problems)
    else:
        for i, raw in enumerate(data["clients"]):
            if "payloads" in raw:
                problems.append(lines.at(["clients", i, "payloads"],
                                         "recorded payloads are replayed with rate stages "
                                         "(a profile from gearcheck replay-profile)"))
        if "speed" in data and not any(c is not None and c.open_model for c in clients):
            problems.append(lines.at(["speed"], "speed multiplies open-model arrival rates, "
                                                "and no client mix has arrival: {model: open}"))
    workers = [_worker(i, w, convert) for i, w in enumerate(data.get("workers", []))]
    _check_names(data, lines, problems)

    served = {f for w in workers for f in w.functions if w.count > 0}
    for i, mix in enumerate(clients):
        if mix is None:
            continue
        if mix.background < 1.0:
            for name in mix.function_names:
                if name not in served:
                    problems.append(lines.at(
                        ["clients", i, "functions"],
                        f"function {name!r} gets foreground jobs but no worker (count > 0) "
                        f"registers it: those jobs would never finish"))
    thresholds = _thresholds(data.get("thresholds", {}), convert)
    capacity = _capacity(data, lines, problems, convert)
    if problems:
        raise ProfileError(problems)
    return LoadProfile(
        name=data["name"], description=data.get("description", ""), path=source,
        server=data.get("server"), stages=tuple(stages),
        spawn_rate=float(data.get("spawn_rate", 100.0)),
        drain_timeout=convert(["drain_timeout"], parse_duration, data.get("drain_timeout", 10)),
        job_timeout=convert(["job_timeout"], parse_duration, data.get("job_timeout", 30)),
        seed=data.get("seed"),
        clients=tuple(c for c in clients if c is not None), workers=tuple(workers),
        thresholds=thresholds, capacity=capacity, raw=data, speed=float(data.get("speed", 1.0)),
        recorded=data.get("recorded"))


def _stages(data: dict[str, Any], lines: _LineMap, problems: list[str], convert: Any
            ) -> list[Stage]:
    if "stages" not in data and data.get("mode") == "capacity":
        if "users" not in data:
            problems.append(lines.at([], "capacity mode needs 'users' (the client users the "
                                         "offered rate is spread over)"))
            return []
        return [Stage("hold", data["users"], 1.0, None)]  # the search decides how long
    if "stages" not in data:
        missing = [k for k in ("users", "duration") if k not in data]
        if missing:
            problems.append(lines.at([], f"give either 'stages' or both 'users' and 'duration' "
                                         f"(missing {', '.join(missing)})"))
            return []
        seconds = convert(["duration"], parse_duration, data["duration"])
        return [Stage("hold", data["users"], seconds or 0.0, None)]
    stages: list[Stage] = []
    current = 0
    for i, raw in enumerate(data["stages"]):
        seconds = convert(["stages", i, "duration"], parse_duration, raw["duration"]) or 0.0
        users = raw.get("users")
        if users is None:
            if raw["kind"] != "hold" and "rate" not in raw:
                problems.append(lines.at(["stages", i], f"a {raw['kind']} stage needs 'users'"))
            users = current
        if raw["kind"] == "hold" and "users" in raw and raw["users"] != current and i > 0:
            problems.append(lines.at(["stages", i, "users"],
                                     f"a hold stage keeps the current {current} users; use a "
                                     f"ramp to change to {raw['users']}"))
        stages.append(Stage(raw["kind"], users, seconds, raw.get("spawn_rate"), raw.get("rate")))
        if raw["kind"] != "spike":
            current = users
    if "duration" in data:
        total = convert(["duration"], parse_duration, data["duration"])
        if total is not None and abs(total - sum(s.duration for s in stages)) > 1e-6:
            problems.append(lines.at(["duration"],
                                     f"duration {data['duration']!r} differs from the stages' "
                                     f"total of {sum(s.duration for s in stages):g}s "
                                     f"(leave it out when stages are given)"))
    return stages


def _weights(spec: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(spec, list):
        return tuple((name, 1.0) for name in spec)
    return tuple((k, float(v)) for k, v in spec.items())


def _client(i: int, raw: dict[str, Any], lines: _LineMap, problems: list[str], convert: Any
            ) -> ClientMix | None:
    path = ["clients", i]
    functions = _weights(raw["functions"])
    priorities = _weights(raw.get("priorities", {"normal": 1}))
    for label, pairs in (("functions", functions), ("priorities", priorities)):
        if not any(w > 0 for _, w in pairs):
            problems.append(lines.at([*path, label], "needs at least one positive weight"))
    unique = raw.get("unique", {"policy": "none"})
    if unique["policy"] == "pool" and "pool_size" not in unique:
        problems.append(lines.at([*path, "unique"], "policy 'pool' needs pool_size"))
    arrival = raw.get("arrival", {"model": "closed"})
    open_model = arrival["model"] == "open"
    if open_model and "rate" not in arrival and "share" not in arrival:
        problems.append(lines.at([*path, "arrival"],
                                 "the open model needs 'rate' (arrivals per second per user), "
                                 "or 'share' with rate stages"))
    if open_model and "rate" in arrival and "share" in arrival:
        problems.append(lines.at([*path, "arrival"], "give 'rate' (per user) or 'share' (of "
                                                     "the stages' rate), not both"))
    if not open_model and ("rate" in arrival or "process" in arrival or "share" in arrival):
        problems.append(lines.at([*path, "arrival"],
                                 "'rate'/'share'/'process' only apply to model: open"))
    payload = convert([*path, "payload_bytes"],
                      lambda v: parse_distribution(v, parse_size), raw.get("payload_bytes", 64))
    late_after = convert([*path, "arrival", "late_after"], parse_duration,
                         arrival.get("late_after", "1ms"))
    if payload is None or late_after is None:
        return None
    return ClientMix(
        name=raw["name"], weight=raw.get("weight", 1), functions=functions,
        background=float(raw.get("background", 0.0)), priorities=priorities,
        unique_policy=unique["policy"], pool_size=int(unique.get("pool_size", 1)),
        payload_bytes=payload, in_flight=raw.get("in_flight", 1), open_model=open_model,
        rate=float(arrival.get("rate", 0.0)), poisson=arrival.get("process") == "poisson",
        late_after=late_after, users=raw.get("users"), share=float(arrival.get("share", 0.0)),
        payloads=convert([*path, "payloads"], lambda v: tuple(_payload(p) for p in v),
                         raw.get("payloads", [])) or ())


def _payload(value: str | dict[str, str]) -> bytes:
    if isinstance(value, dict):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise ValueError(f"{value['b64'][:40]!r} is not base64") from None
    return value.encode("utf-8")


def _worker(i: int, raw: dict[str, Any], convert: Any) -> WorkerMix:
    path = ["workers", i]
    service = convert([*path, "service_time"], lambda v: parse_distribution(v, parse_duration),
                      raw.get("service_time", 0))
    outcomes = _weights(raw.get("outcomes", {"complete": 1}))
    faults = raw.get("faults", {})
    result = convert([*path, "result_bytes"], lambda v: parse_distribution(v, parse_size),
                     raw.get("result_bytes", 0)) or Distribution("constant")
    return WorkerMix(
        name=raw["name"], count=raw["count"], functions=tuple(raw["functions"]),
        service_time=service or Distribution("constant"), outcomes=outcomes,
        status_updates=raw.get("status_updates", 0), data_chunks=raw.get("data_chunks", 0),
        result_bytes=int(result.expected), drop=float(faults.get("drop", 0.0)),
        duplicate=float(faults.get("duplicate", 0.0)),
        result_size=None if result.kind == "constant" else result)


def _check_names(data: dict[str, Any], lines: _LineMap, problems: list[str]) -> None:
    for section in ("clients", "workers"):
        seen: dict[str, int] = {}
        for i, mix in enumerate(data.get(section, [])):
            if mix["name"] in seen:
                problems.append(lines.at([section, i, "name"],
                                         f"name {mix['name']!r} is already used by "
                                         f"{section}[{seen[mix['name']]}]"))
            seen[mix["name"]] = i


def _capacity(data: dict[str, Any], lines: _LineMap, problems: list[str], convert: Any
              ) -> CapacitySettings | None:
    raw = data.get("capacity")
    if data.get("mode", "load") != "capacity":
        if raw is not None:
            problems.append(lines.at(["capacity"], "only used with mode: capacity"))
        return None
    raw = raw or {}
    if not any(c.get("arrival", {}).get("model") == "open" for c in data["clients"]):
        problems.append(lines.at(["mode"], "capacity mode raises an open model's rate: "
                                           "give a client arrival: {model: open, rate: ...}"))
    if "slo" not in raw:
        return None  # the command line must give it (gearcheck capacity --slo)
    slo = convert(["capacity", "slo"], parse_slo, raw["slo"])
    step = convert(["capacity", "step"], parse_duration, raw.get("step", "5s"))
    if slo is None or step is None:
        return None
    if step < 2:
        problems.append(lines.at(["capacity", "step"], "a step needs at least 2s (its first "
                                                       "second is not measured)"))
    return CapacitySettings(slo=slo, start_rate=float(raw.get("start_rate", 200)),
                            growth=float(raw.get("growth", 1.5)), step_s=step,
                            refine=int(raw.get("refine", 3)),
                            max_steps=int(raw.get("max_steps", 30)))


def _thresholds(raw: dict[str, Any], convert: Any) -> Thresholds:
    latency = []
    for i, item in enumerate(raw.get("latency", [])):
        seconds = convert(["thresholds", "latency", i, "max"], parse_duration, item["max"])
        latency.append(LatencyThreshold(item["metric"], float(item["p"]), seconds or 0.0,
                                        item.get("name")))
    return Thresholds(
        latency=tuple(latency), max_error_ratio=raw.get("max_error_ratio"),
        min_throughput=raw.get("min_throughput"), max_lost=raw.get("max_lost", 0),
        max_duplicated=raw.get("max_duplicated", 0), max_late_ratio=raw.get("max_late_ratio"),
        max_replay_deviation=raw.get("max_replay_deviation"),
        max_protocol_defects=raw.get("max_protocol_defects", 0))


def _rate_stages(data: dict[str, Any], stages: list[Stage], clients: list[ClientMix | None],
                 lines: _LineMap, problems: list[str]) -> list[Stage]:
    """Open-model stages: every stage gives a rate, every client mix users and a share;
    each stage's user count becomes the mixes' total (users stay for the whole run)."""
    for i, raw in enumerate(data["stages"]):
        if "rate" not in raw:
            problems.append(lines.at(["stages", i], "give 'rate' in every stage or in none"))
        elif "users" in raw:
            problems.append(lines.at(["stages", i, "users"],
                                     "a stage with 'rate' takes its users from the client "
                                     "mixes' 'users'"))
    if "users" in data:
        problems.append(lines.at(["users"], "with rate stages the users come from each client "
                                            "mix's 'users'"))
    for i, mix in enumerate(clients):
        if mix is None:
            continue
        raw = data["clients"][i]
        if not mix.open_model or "share" not in raw.get("arrival", {}):
            problems.append(lines.at(["clients", i, "arrival"],
                                     "with rate stages every client mix needs arrival: "
                                     "{model: open, share: S} (its share of the stage rate)"))
        if "users" not in raw:
            problems.append(lines.at(["clients", i], "with rate stages every client mix "
                                                     "needs 'users' (a fixed count)"))
    users = sum(mix.users or 0 for mix in clients if mix is not None)
    return [replace(s, users=users) for s in stages]
