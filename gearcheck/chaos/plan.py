"""The randomized workload and fault schedule of one chaos run, as data.

Strategy: everything random is drawn here, up front, from one seed, into a
``Plan``: every job (when it is submitted, by which client, its function
name, unique id, payload size, priority, foreground or background, epoch
delay, whether its client cancels it, how long the worker takes) and every
fault (when, which nemesis, for how long, against which worker or client).
The runner only plays a plan, so a plan can be replayed exactly, saved as a
reproducer, and cut down by the shrinker (``Plan.subset``) without drawing
anything again.

Shapes are the ones users send: unique ids distinct, repeated (so jobs
coalesce), empty (the server makes one up), 64 bytes long, binary, and with
the separators back ends build keys from (``-``, ``:``, tab, space, ``/``);
function names plain, hyphenated, with a tab, a colon, a dot, UTF-8, and
long; payloads from 0 bytes to 1 MiB. Each payload starts with
``gc:<token>;`` so a worker can say which submission it is running; payloads
too short for that get a unique id of their own instead.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

PRIORITIES = ("high", "normal", "low")
MAX_UNIQUE = 64          # gearmand refuses longer unique ids (ARGUMENT_TOO_LARGE)
MiB = 1 << 20
TOKEN_PREFIX = b"gc:"
_TOKEN = re.compile(rb"gc:(j\d{5,});")


@dataclass(frozen=True)
class JobSpec:
    token: str               # j00042: names the submission everywhere
    at: float                # seconds after the workload starts
    client: int
    function: bytes
    unique: bytes
    size: int                # payload bytes
    priority: str            # high | normal | low
    background: bool
    epoch_delay: int = 0     # > 0: SUBMIT_JOB_EPOCH, due this many seconds after submission
    cancel: bool = False     # the client cancels it (admin "cancel job") once acknowledged
    work_ms: int = 0         # how long the worker spends on it

    def payload(self) -> bytes:
        head = TOKEN_PREFIX + self.token.encode() + b";"
        if self.size <= len(head):
            return head[: self.size]
        filler = random.Random(self.token).randbytes(self.size - len(head))
        return head + filler

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["function"] = self.function.hex()
        d["unique"] = self.unique.hex()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSpec:
        return cls(**{**d, "function": bytes.fromhex(d["function"]),
                      "unique": bytes.fromhex(d["unique"])})


def token_of(data: bytes) -> str | None:
    """The submission token in a payload's head. Searched for in the first bytes, not only
    at the start, so a payload the server shifted (a byte of the unique id leaking into
    it, say) still names its submission and the checker can call it altered."""
    found = _TOKEN.search(data, 0, 160)
    return found.group(1).decode("ascii") if found else None


def data_digest(data: bytes) -> str:
    """A payload's fingerprint, written by the client at submission and by the worker at
    execution: equal fingerprints mean the queue gave back exactly what it was given."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def result_for(token: str | None, data: bytes) -> bytes:
    """What a chaos worker sends back in WORK_COMPLETE: the job it ran, by token or payload."""
    return b"r:" + (token.encode() if token else b"~" + data_digest(data).encode())


@dataclass(frozen=True)
class FaultSpec:
    at: float                # seconds after the workload starts
    nemesis: str
    duration: float          # how long the fault lasts before it is healed
    pick: int = 0            # which worker or client (modulo how many there are)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    seed: int
    seconds: float
    clients: int
    workers: int
    functions: tuple[bytes, ...]
    jobs: tuple[JobSpec, ...]
    faults: tuple[FaultSpec, ...] = ()
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def subset(self, jobs: list[JobSpec] | None = None,
               faults: list[FaultSpec] | None = None, note: str = "") -> Plan:
        """The same plan with fewer jobs or faults (what the shrinker tries)."""
        kept = tuple(jobs) if jobs is not None else self.jobs
        return replace(self, jobs=kept, faults=tuple(faults) if faults is not None
                       else self.faults, note=note or self.note,
                       functions=tuple(f for f in self.functions
                                       if any(j.function == f for j in kept)) or self.functions)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "seconds": self.seconds, "clients": self.clients,
                "workers": self.workers, "functions": [f.hex() for f in self.functions],
                "note": self.note, "extra": self.extra,
                "jobs": [j.to_dict() for j in self.jobs],
                "faults": [f.to_dict() for f in self.faults]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(seed=int(d["seed"]), seconds=float(d["seconds"]), clients=int(d["clients"]),
                   workers=int(d["workers"]),
                   functions=tuple(bytes.fromhex(f) for f in d["functions"]),
                   jobs=tuple(JobSpec.from_dict(j) for j in d["jobs"]),
                   faults=tuple(FaultSpec(**f) for f in d["faults"]),
                   note=str(d.get("note", "")), extra=dict(d.get("extra") or {}))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Plan:
        return cls.from_dict(json.loads(path.read_text()))


# -- generation ---------------------------------------------------------------
FUNCTION_SHAPES: tuple[tuple[str, bytes], ...] = (
    ("plain", b"chaos_plain"),
    ("hyphen", b"chaos-with-hyphens"),
    ("tab", b"chaos\ttab"),
    ("colon", b"chaos:colon"),
    ("dot", b"chaos.dot.name"),
    ("utf8", "chaos-\u00e9t\u00e9".encode()),
    ("long", b"chaos_long_" + b"f" * 245),        # 256 bytes
)
UNIQUE_SHAPES = ("distinct", "repeated", "empty", "long", "binary", "separators")
SEPARATORS = (b"-", b":", b"\t", b" ", b"/", b"_")


@dataclass(frozen=True)
class WorkloadShape:
    rate: float = 40.0            # submissions per second, all clients together
    clients: int = 4
    workers: int = 3
    background_share: float = 0.7
    epoch_share: float = 0.05
    cancel_share: float = 0.03
    slow_share: float = 0.1       # jobs a worker spends 150-400 ms on (a kill lands mid-job)
    big_share: float = 0.01       # payloads up to 1 MiB
    unique_pool: int = 6          # repeated unique ids are drawn from this many per function


def _unique(rng: random.Random, shape: str, token: str, pool: int) -> bytes:
    if shape == "distinct":
        return f"u-{token}-{rng.getrandbits(48):012x}".encode()
    if shape == "repeated":
        return f"rep-{rng.randrange(pool)}".encode()
    if shape == "empty":
        return b""
    if shape == "long":
        return (f"long-{token}-".encode() + b"x" * MAX_UNIQUE)[:MAX_UNIQUE]
    if shape == "binary":  # anything but NUL, the argument separator
        return bytes(rng.randrange(1, 256) for _ in range(rng.randrange(8, 33)))
    sep = rng.choice(SEPARATORS)
    return sep.join([b"sep", token.encode(), sep.hex().encode()])


def _size(rng: random.Random, shape: WorkloadShape) -> int:
    roll = rng.random()
    if roll < shape.big_share:
        return rng.randrange(64 * 1024, MiB + 1)
    if roll < 0.05:
        return 0
    if roll < 0.08:
        return rng.randrange(64 * 1024, 256 * 1024)
    if roll < 0.5:
        return rng.randrange(16, 65)
    return rng.randrange(65, 4097)


def generate(seed: int, seconds: float, nemeses: list[str], *,
             shape: WorkloadShape | None = None, fault_gap: tuple[float, float] = (0.8, 2.2),
             fault_length: tuple[float, float] = (0.3, 1.5)) -> Plan:
    """A plan of ``seconds`` of submissions and faults from ``nemeses``, all from ``seed``."""
    shape = shape or WorkloadShape()
    rng = random.Random(seed)
    function_count = rng.randrange(3, len(FUNCTION_SHAPES) + 1)
    functions = [FUNCTION_SHAPES[0][1]] + [f for _, f in rng.sample(FUNCTION_SHAPES[1:],
                                                                     function_count - 1)]
    jobs: list[JobSpec] = []
    t = 0.0
    n = 0
    while True:
        t += rng.expovariate(shape.rate)
        if t >= seconds:
            break
        n += 1
        token = f"j{n:05d}"
        background = rng.random() < shape.background_share
        epoch = rng.randrange(1, 3) if background and rng.random() < shape.epoch_share else 0
        size = _size(rng, shape)
        unique_shape = rng.choice(UNIQUE_SHAPES)
        if size < len(TOKEN_PREFIX) + len(token) + 1:  # too short to carry its token
            unique_shape = "distinct"
        jobs.append(JobSpec(
            token=token, at=round(t, 4), client=rng.randrange(shape.clients),
            function=rng.choice(functions),
            unique=_unique(rng, unique_shape, token, shape.unique_pool), size=size,
            priority="normal" if epoch else rng.choice(PRIORITIES), background=background,
            epoch_delay=epoch, cancel=background and not epoch
            and rng.random() < shape.cancel_share,
            work_ms=rng.randrange(150, 400) if rng.random() < shape.slow_share
            else rng.randrange(0, 15)))
    faults: list[FaultSpec] = []
    if nemeses:
        t = rng.uniform(*fault_gap) * 0.5
        while t < seconds - 0.3:
            nemesis = rng.choice(nemeses)
            length = round(rng.uniform(*fault_length), 3)
            faults.append(FaultSpec(at=round(t, 3), nemesis=nemesis, duration=length,
                                    pick=rng.randrange(1000)))
            t += length + rng.uniform(*fault_gap)
    return Plan(seed=seed, seconds=seconds, clients=shape.clients, workers=shape.workers,
                functions=tuple(functions), jobs=tuple(jobs), faults=tuple(faults))
