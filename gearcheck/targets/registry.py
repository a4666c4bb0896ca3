"""fixtures/servers.yaml: the implementations under test and how to start each.

Strategy: each entry names a ``Target`` class by dotted path plus keyword
arguments, so adding a server is a YAML edit when a target class exists and
one new class when it does not. Loading checks everything it can without
starting anything (shape, unique names, the class imports and is a
``Target``) and reports ``file:line: what`` for each
problem; starting is ``spec.create(...)`` then the usual context manager.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..engine.positions import PosDict, load_documents, yaml_error_where
from ._base import ProcessTarget, Target

DEFAULT_SERVERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "servers.yaml"
ENTRY_KEYS = {"name", "title", "target", "args", "baseline", "notes"}
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
    def fail(key: str | None, message: str) -> RegistryError:
        at = item.lines.get(key, item.line) if isinstance(item, PosDict) and key else line
        return RegistryError(f"{path}:{at}: {message}")

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
    resolve_target(target.strip(), f"{path}:{item.lines.get('target', item.line)}")
    baseline = item.get("baseline")
    baseline_path: Path | None = None
    if baseline is not None:
        if not isinstance(baseline, str):
            raise fail("baseline", f"{name}: 'baseline' must be a path")
        # existence is checked by whoever applies it (the matrix warns, the gate fails):
        # a baseline may be written after the server is listed
        baseline_path = (path.parent / baseline).resolve()
    return ServerSpec(name=name, target=target.strip(), title=str(item.get("title") or ""),
                      args=dict(args), baseline=baseline_path,
                      notes=" ".join(str(item.get("notes") or "").split()),
                      file=str(path), line=item.line)


def parse_registry(text: str, path: Path | str) -> list[ServerSpec]:
    path = Path(path)
    try:
        documents = load_documents(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_where(exc)
        raise RegistryError(f"{path}:{line}: not valid YAML: {problem}") from exc
    doc = documents[0] if len(documents) == 1 else None
    if not isinstance(doc, PosDict) or not isinstance(doc.get("servers"), list):
        raise RegistryError(f"{path}:{getattr(doc, 'line', 1)}: expected one document with "
                            "'servers:' (a list of servers)")
    items = doc["servers"]
    specs: dict[str, ServerSpec] = {}
    for item, line in zip(items, items.lines, strict=True):
        spec = _entry(path, item, line)
        if spec.name in specs:
            raise RegistryError(f"{path}:{spec.line}: server name {spec.name!r} is used twice "
                                f"(first at line {specs[spec.name].line})")
        specs[spec.name] = spec
    if not specs:
        raise RegistryError(f"{path}:{doc.line}: 'servers' is empty")
    return list(specs.values())


def load_registry(path: Path | str | None = None) -> list[ServerSpec]:
    path = Path(path) if path else DEFAULT_SERVERS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the server registry "
                            f"({exc.strerror or exc})") from exc
    return parse_registry(text, path)


def select(specs: list[ServerSpec], names: list[str] | None) -> list[ServerSpec]:
    """The named servers, in registry order; every name must exist."""
    if not names:
        return specs
    known = {s.name: s for s in specs}
    missing = [n for n in names if n not in known]
    if missing:
        raise RegistryError(f"unknown server(s) {missing}; the registry has {list(known)}")
    return [s for s in specs if s.name in names]
