"""Interop scenarios as data: the YAML files under fixtures/interop/scenarios/.

Strategy: a scenario says what the worker serves (local function names
mapped to behaviours), what each client submits, and what each side must
report; the loader checks every field and names the file and field when one
is wrong, then ``instantiate`` turns it into the concrete driver orders for
one run: function names and unique ids get the run's token (so many runs
share one server without meeting), payload specs become bytes, ``repeat``
expands into N jobs. Format reference: fixtures/interop/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import paths
from .driver import b64
from .registry import ALL_CLIENT, ALL_WORKER

SCENARIO_DIR = paths.INTEROP_DIR / "scenarios"
BEHAVIOURS = {"echo", "reverse", "stream", "progress", "slow", "fail", "exception", "unique",
              "upload"}
EVENTS = {"created", "data", "warning", "status", "status_res", "complete", "fail", "exception",
          "error", "timeout"}
TOP_KEYS = {"id", "title", "pairs", "requires", "functions", "worker", "clients", "expect",
            "timeout", "tags", "description", "interval"}
JOB_KEYS = {"id", "function", "payload", "priority", "background", "unique", "poll_status",
            "repeat"}
ID_RE = re.compile(r"^IOP-[A-Z]+-[0-9]{3}$")


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the field."""


@dataclass
class InteropScenario:
    id: str
    title: str
    file: str
    pairs: str | list[tuple[str, str]]  # "all", "star" or explicit (client, worker) pairs
    requires_client: list[str]
    requires_worker: list[str]
    functions: dict[str, str]
    worker_start: str  # before | after
    worker_delay: float
    clients: list[dict[str, Any]]
    expect: dict[str, Any]
    timeout: float
    interval: float = 0.0
    tags: list[str] = field(default_factory=list)

    def applies_to(self, client: str, worker: str, hub: str) -> bool:
        if self.pairs == "all":
            return True
        if self.pairs == "star":
            return hub in (client, worker) or client == worker
        if self.pairs == "hub":
            return hub in (client, worker)
        return (client, worker) in self.pairs


def _err(path: Path, where: str, message: str) -> ScenarioError:
    return ScenarioError(f"{path}: {where}: {message}")


def load_scenario(path: Path) -> InteropScenario:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise _err(path, "top level", "must be a mapping")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise _err(path, ", ".join(sorted(unknown)), f"unknown key(s); allowed: {sorted(TOP_KEYS)}")
    for key in ("id", "title", "functions", "clients", "expect"):
        if key not in doc:
            raise _err(path, key, "missing")
    if not ID_RE.match(str(doc["id"])):
        raise _err(path, "id", f"{doc['id']!r} does not look like IOP-AREA-NNN")
    functions = doc["functions"]
    if not isinstance(functions, dict) or not functions:
        raise _err(path, "functions", "must map local function names to behaviours")
    for name, behaviour in functions.items():
        if behaviour not in BEHAVIOURS:
            raise _err(path, f"functions.{name}", f"unknown behaviour {behaviour!r}; "
                       f"known: {sorted(BEHAVIOURS)}")
    requires = doc.get("requires") or {}
    for role, known in (("client", ALL_CLIENT), ("worker", ALL_WORKER)):
        for feature in requires.get(role, []) or []:
            if feature not in known:
                raise _err(path, f"requires.{role}", f"unknown feature {feature!r}; "
                           f"known: {sorted(known)}")
    pairs = doc.get("pairs", "star")
    if isinstance(pairs, list):
        try:
            pairs = [(str(c), str(w)) for c, w in pairs]
        except (TypeError, ValueError):
            raise _err(path, "pairs", "must be all, star or a list of [client, worker]") from None
    elif pairs not in ("all", "star", "hub"):
        raise _err(path, "pairs", "must be all, star, hub or a list of [client, worker]")
    clients = doc["clients"]
    if not isinstance(clients, list) or not clients:
        raise _err(path, "clients", "must be a non-empty list of {jobs: [...]}")
    for ci, client in enumerate(clients):
        jobs = client.get("jobs") if isinstance(client, dict) else None
        if not isinstance(jobs, list) or not jobs:
            raise _err(path, f"clients[{ci}].jobs", "must be a non-empty list")
        for ji, job in enumerate(jobs):
            where = f"clients[{ci}].jobs[{ji}]"
            if not isinstance(job, dict):
                raise _err(path, where, "must be a mapping")
            bad = set(job) - JOB_KEYS
            if bad:
                raise _err(path, where, f"unknown key(s) {sorted(bad)}; allowed {sorted(JOB_KEYS)}")
            for key in ("id", "function"):
                if key not in job:
                    raise _err(path, f"{where}.{key}", "missing")
            if job["function"] not in functions:
                raise _err(path, f"{where}.function", f"{job['function']!r} is not in functions")
            if job.get("priority", "normal") not in ("normal", "high", "low"):
                raise _err(path, f"{where}.priority", "must be normal, high or low")
    expect = doc["expect"]
    if not isinstance(expect, dict):
        raise _err(path, "expect", "must be a mapping")
    for jid, rows in (expect.get("jobs") or {}).items():
        for ri, row in enumerate(rows):
            if not isinstance(row, dict) or row.get("event") not in EVENTS:
                raise _err(path, f"expect.jobs.{jid}[{ri}].event",
                           f"must be one of {sorted(EVENTS)}")
    worker = doc.get("worker") or {}
    if worker.get("start", "before") not in ("before", "after"):
        raise _err(path, "worker.start", "must be before or after")
    return InteropScenario(
        id=doc["id"], title=doc["title"], file=str(path), pairs=pairs,
        requires_client=list(requires.get("client", []) or []),
        requires_worker=list(requires.get("worker", []) or []),
        functions=dict(functions), worker_start=worker.get("start", "before"),
        worker_delay=float(worker.get("delay", 0.0)), clients=clients, expect=expect,
        timeout=float(doc.get("timeout", 10.0)), interval=float(doc.get("interval", 0.0)),
        tags=list(doc.get("tags", [])))


def load_all(directory: Path = SCENARIO_DIR) -> list[InteropScenario]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ScenarioError(f"{directory}: no scenario files (*.yaml)")
    scenarios = [load_scenario(f) for f in files]
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.id in seen:
            raise ScenarioError(f"{s.file}: id {s.id} is also used by {seen[s.id]}")
        seen[s.id] = s.file
    return scenarios


def payload_bytes(spec: Any, n: int = 0) -> bytes:
    """A payload spec: text, {hex: ".."}, {fill: "..", size: N}; {n} is the repeat index."""
    if spec is None:
        return b""
    if isinstance(spec, str):
        return spec.replace("{n}", str(n)).encode("utf-8")
    if isinstance(spec, dict) and "hex" in spec:
        return bytes.fromhex(str(spec["hex"]).replace(" ", ""))
    if isinstance(spec, dict) and "fill" in spec:
        unit = str(spec["fill"]).encode("utf-8").decode("unicode_escape").encode("latin-1")
        size = int(spec["size"])
        return (unit * (size // max(1, len(unit)) + 1))[:size]
    raise ScenarioError(f"payload {spec!r}: use text, {{hex: ..}} or {{fill: .., size: N}}")


@dataclass
class Instance:
    """A scenario made concrete for one run."""

    functions: dict[str, str]  # real function name -> behaviour
    names: dict[str, str]  # local -> real function name
    client_orders: list[dict[str, Any]]  # without "server" (added by the runner)
    payloads: dict[str, bytes]  # job id -> payload sent


def instantiate(s: InteropScenario, token: str) -> Instance:
    names = {local: f"gc.{token}.{local}" for local in s.functions}
    orders: list[dict[str, Any]] = []
    payloads: dict[str, bytes] = {}
    for client in s.clients:
        jobs: list[dict[str, Any]] = []
        for job in client["jobs"]:
            count = int(job.get("repeat", 1))
            for n in range(1, count + 1):
                jid = job["id"] if count == 1 else f"{job['id']}-{n}"
                data = payload_bytes(job.get("payload"), n)
                payloads[jid] = data
                out: dict[str, Any] = {"id": jid, "function": names[job["function"]],
                                       "payload": b64(data),
                                       "priority": job.get("priority", "normal"),
                                       "background": bool(job.get("background", False))}
                if job.get("unique") is not None:
                    out["unique"] = str(job["unique"]).replace("{token}", token)
                if job.get("poll_status"):
                    out["poll_status"] = job["poll_status"]
                jobs.append(out)
        orders.append({"timeout": s.timeout, "interval": s.interval, "jobs": jobs})
    return Instance({names[k]: v for k, v in s.functions.items()}, names, orders, payloads)
