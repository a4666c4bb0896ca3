"""fixtures/servers.yaml: the implementations under test, and the one way to name a server.

Strategy: each entry names a ``Target`` class by dotted path plus keyword
arguments, so adding a server is a YAML edit when a target class exists and
one new class when it does not. Loading checks everything it can without
starting anything (shape, unique names and aliases, the class imports and is
a ``Target``) and reports ``file:line: what`` for each problem.

An entry may be a ``variant_of`` another: the same implementation started
with other arguments (a queue back end, a thread count). Variants are left
out when every server is asked for (``select`` with no names, as ``make
matrix`` does) and run when named.

Every command turns what the user typed into a server through ``open_target``:
a registered name or alias (``gearmand`` for ``gearmand-1.1.20``) becomes a
not-yet-started managed target, ``HOST:PORT`` someone else's running server.
``find`` is the same lookup for callers that need the entry (its baseline).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..wire import Address
from ..yaml_positions import PosDict, entry_failure, load_entries, read_entries_file
from ._base import ExternalTarget, ProcessTarget, Target
from ._errors import TargetError
from .configs import ServerConfig

DEFAULT_SERVERS_FILE = paths.SERVERS_FILE
ENTRY_KEYS = {"name", "aliases", "title", "target", "args", "baseline", "notes", "jobs",
              "variant_of"}
DEFAULT_TARGET = "refserver"  # the server a command starts when told none
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RegistryError(ValueError):
    """servers.yaml cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class ServerSpec:
    name: str
    target: str
    title: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    baseline: Path | None = None
    notes: str = ""
    aliases: tuple[str, ...] = ()
    jobs: int | None = None  # cases at once in its matrix run (None: the matrix's setting)
    variant_of: str = ""
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def target_class(self) -> type[Target]:
        return resolve_target(self.target, self.where)

    def create(self, **overrides: Any) -> Target:
        """A not-yet-started target; ``log_dir`` and the like only reach process targets."""
        cls = self.target_class()
        kwargs = {**self.args}
        if issubclass(cls, ProcessTarget):
            kwargs.update(overrides)
        kwargs.setdefault("name", self.name)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise RegistryError(f"{self.where}: {self.name}: cannot create {self.target} with "
                                f"args {self.args}: {exc}") from exc


def resolve_target(dotted: str, where: str = "") -> type[Target]:
    prefix = f"{where}: " if where else ""
    module_name, sep, attr = dotted.partition(":")
    if not sep:
        module_name, _, attr = dotted.rpartition(".")
    if not module_name or not attr:
        raise RegistryError(f"{prefix}target {dotted!r} is not a dotted path like "
                            "gearcheck.targets.gearmand.GearmandTarget")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"{prefix}target {dotted!r}: cannot import module "
                            f"{module_name!r} ({exc})") from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise RegistryError(f"{prefix}target {dotted!r}: module {module_name!r} has no "
                            f"{attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise RegistryError(f"{prefix}target {dotted!r} is not a gearcheck Target class")
    return cls


def _entry(path: Path, item: object, line: int) -> ServerSpec:
    fail = entry_failure(path, item, line, RegistryError)

    if not isinstance(item, PosDict):
        raise fail(None, "each server is a mapping with 'name' and 'target'")
    unknown = sorted(set(item) - ENTRY_KEYS, key=str)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r} (a server has "
                               f"{sorted(ENTRY_KEYS)})")
    name = item.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise fail("name", f"'name' must be a short name such as gearmand-1.1.20, got {name!r}")
    target = item.get("target")
    if not isinstance(target, str) or not target.strip():
        raise fail("target", f"{name}: 'target' (a Target class's dotted path) is required")
    args = item.get("args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        raise fail("args", f"{name}: 'args' must be a mapping of keyword arguments")
    aliases = item.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and NAME.match(a)
                                                for a in aliases):
        raise fail("aliases", f"{name}: 'aliases' must be a list of short names")
    resolve_target(target.strip(), f"{path}:{item.lines.get('target', item.line)}")
    baseline = item.get("baseline")
    baseline_path: Path | None = None
    if baseline is not None:
        if not isinstance(baseline, str):
            raise fail("baseline", f"{name}: 'baseline' must be a path")
        # existence is checked by whoever applies it (the matrix warns, the gate fails):
        # a baseline may be written after the server is listed
        baseline_path = (path.parent / baseline).resolve()
    jobs = item.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise fail("jobs", f"{name}: 'jobs' must be a whole number of at least 1")
    variant_of = item.get("variant_of") or ""
    if not isinstance(variant_of, str):
        raise fail("variant_of", f"{name}: 'variant_of' must name another server")
    return ServerSpec(name=name, target=target.strip(), title=str(item.get("title") or ""),
                      args=dict(args), baseline=baseline_path,
                      notes=" ".join(str(item.get("notes") or "").split()),
                      aliases=tuple(aliases), jobs=jobs, variant_of=variant_of, file=str(path),
                      line=item.line)


def parse_registry(text: str, path: Path | str) -> list[ServerSpec]:
    path = Path(path)
    specs: dict[str, ServerSpec] = {}
    taken: dict[str, ServerSpec] = {}  # names and aliases
    for item, line in load_entries(text, path, "servers", RegistryError):
        spec = _entry(path, item, line)
        for word in (spec.name, *spec.aliases):
            if word in taken:
                raise RegistryError(f"{path}:{spec.line}: server name {word!r} is used twice "
                                    f"(first at line {taken[word].line})")
            taken[word] = spec
        specs[spec.name] = spec
    if not specs:
        raise RegistryError(f"{path}:1: 'servers' is empty")
    for spec in specs.values():
        if spec.variant_of and spec.variant_of not in specs:
            raise RegistryError(f"{spec.where}: {spec.name}: variant_of {spec.variant_of!r} is "
                                "not a server in this registry")
    return list(specs.values())


def load_registry(path: Path | str | None = None) -> list[ServerSpec]:
    path = Path(path) if path else DEFAULT_SERVERS_FILE
    text = read_entries_file(path, "server registry", RegistryError)
    return parse_registry(text, path)


def known_names(specs: list[ServerSpec]) -> str:
    return ", ".join(s.name + (f" ({', '.join(s.aliases)})" if s.aliases else "") for s in specs)


def find(specs: list[ServerSpec], name: str) -> ServerSpec:
    """The entry called ``name`` or with ``name`` among its aliases."""
    for spec in specs:
        if name == spec.name or name in spec.aliases:
            return spec
    raise RegistryError(f"unknown server {name!r}; the registry has {known_names(specs)}")


def select(specs: list[ServerSpec], names: list[str] | None) -> list[ServerSpec]:
    """The named servers (names or aliases), in registry order; every name must exist.

    No names: every server that is not a ``variant_of`` another."""
    if not names:
        return [s for s in specs if not s.variant_of]
    wanted = {find(specs, n).name for n in names}
    return [s for s in specs if s.name in wanted]


def is_address(choice: str) -> bool:
    """HOST:PORT (a running server) rather than a registered name."""
    host, sep, port = choice.rpartition(":")
    return bool(sep and host and port.isdigit())


def open_target(choice: str | None = None, *, specs: list[ServerSpec] | None = None,
                **overrides: Any) -> Target:
    """A not-yet-started target for a registered name or alias, or for HOST:PORT.

    ``None`` is the default server (``DEFAULT_TARGET``). ``overrides`` (``log_dir``,
    ``port``, ``extra_args`` ...) reach managed targets only. The caller starts and
    stops it (``with open_target("gearmand", log_dir=d) as t: ...``).
    """
    choice = choice or DEFAULT_TARGET
    if is_address(choice):
        return ExternalTarget(Address.parse(choice))
    return find(specs if specs is not None else load_registry(), choice).create(**overrides)


def open_managed(choice: str, *, config: ServerConfig | None = None,
                 state_dir: Path | None = None, specs: list[ServerSpec] | None = None,
                 **overrides: Any) -> ProcessTarget:
    """Like ``open_target``, for tools that must kill, pause or restart the server.

    Refuses HOST:PORT and targets gearcheck does not run as a process (a
    ``TargetError`` naming why); applies ``config`` (a persistent queue in
    ``state_dir``, say) or raises ``ConfigUnsupported``.
    """
    if is_address(choice):
        raise TargetError(f"{choice} is someone else's server; this needs one gearcheck starts "
                          "and stops itself (a registered name)")
    target = open_target(choice, specs=specs, **overrides)
    if not isinstance(target, ProcessTarget):
        raise TargetError(f"{choice}: gearcheck does not run this server as a process")
    if config is not None:
        target.apply_config(config, state_dir or target.log_dir)
    return target
