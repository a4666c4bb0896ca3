"""A YAML loader that remembers where every mapping key and list item came from.

Strategy: subclass PyYAML's ``SafeLoader`` so mappings become ``PosDict`` and
sequences ``PosList``: ordinary dict/list subclasses that also carry the
1-based line of the node itself (``.line``) and of each key or item
(``.lines``). Schema errors report a JSON path; ``line_of`` walks that path
through the loaded data and returns the deepest line it can find, so an error
names ``file:line:field`` without a second parse.

Parsing uses the C LibYAML parser when PyYAML has it (about 20x faster over
the suite: collection was the slowest part of a run's start); the node marks
and so the lines are the same. A text the C parser rejects is parsed again
by the pure-Python loader, whose error messages are the ones users see.

Booleans follow YAML 1.2 (``true``/``false`` only), so the key ``on`` stays a
string. Multi-document files (``---`` separators) are read with ``load_documents``,
each document keeping its own line numbers relative to the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml


class PosDict(dict):  # type: ignore[type-arg]
    line: int = 0
    lines: dict[Any, int]


class PosList(list):  # type: ignore[type-arg]
    line: int = 0
    lines: list[int]


class _PosLoader(yaml.SafeLoader):
    pass


class _PosCLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


_LOADERS: tuple[type[yaml.SafeLoader], ...] = (_PosCLoader, _PosLoader) \
    if getattr(yaml, "__with_libyaml__", False) else (_PosLoader,)

# YAML 1.2 booleans: only true/false. YAML 1.1 would read the key ``on:`` (used by
# every step) as True, and yes/no/off as booleans too.
for _loader in (_PosLoader, _PosCLoader):
    _loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"))


def _construct_mapping(loader: _PosLoader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    out = PosDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found an unhashable key", key_node.start_mark) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _PosLoader, node: yaml.SequenceNode) -> PosList:
    out = PosList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


for _loader in (_PosLoader, _PosCLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
                            _construct_sequence)


def yaml_error_where(exc: yaml.YAMLError) -> tuple[int, str]:
    """The 1-based line (0 when unknown) and the problem a YAML error reports."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return (mark.line + 1 if mark else 0), (getattr(exc, "problem", None) or str(exc))


def load_documents(text: str) -> list[Any]:
    """Every YAML document in ``text`` (raises ``yaml.YAMLError`` with a mark)."""
    *fast, checked = _LOADERS
    for loader in fast:
        try:
            return [doc for doc in yaml.load_all(text, Loader=loader) if doc is not None]
        except yaml.YAMLError:
            break  # the pure-Python loader says what is wrong, in its own words
    return [doc for doc in yaml.load_all(text, Loader=checked) if doc is not None]


def line_of(data: Any, path: Iterable[Any]) -> int:
    """The line of the deepest element of ``path`` found in ``data`` (0 if none)."""
    line = getattr(data, "line", 0)
    node = data
    for part in path:
        if isinstance(node, PosDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, PosList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def field_path(path: Iterable[Any]) -> str:
    """A JSON path as readable text: ``steps[3].expect.args.handle``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def load_entries(text: str, path: Path | str, key: str,
                 error: Callable[[str], Exception]) -> list[tuple[Any, int]]:
    """The items of the list under ``key`` in a one-document file, each with its line.

    For the list-of-entries formats (the server registry, known-divergence and
    known-defect files): ``error("file:line: what")`` is raised for YAML that
    does not parse and for a file that is not one mapping with a list at ``key``.
    """
    try:
        documents = load_documents(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_where(exc)
        raise error(f"{path}:{line}: not valid YAML: {problem}") from exc
    doc = documents[0] if len(documents) == 1 else None
    if not isinstance(doc, PosDict) or not isinstance(doc.get(key), list):
        raise error(f"{path}:{getattr(doc, 'line', 1)}: expected one document with "
                    f"'{key}:' (a list)")
    items = doc[key]
    return list(zip(items, items.lines, strict=True))


def read_entries_file(path: Path, what: str, error: Callable[[str], Exception]) -> str:
    """The text of a list-of-entries file; ``error("path: cannot read the <what> (why)")``
    when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc


def entry_failure(path: Path | str, item: Any, line: int,
                  error: Callable[[str], Exception]) -> Callable[[str | None, str], Exception]:
    """``fail(key, message)`` for one entry of ``load_entries``: the error to raise, placed at
    the line of ``key`` in the entry (or of the entry itself when ``key`` is None)."""
    def fail(key: str | None, message: str) -> Exception:
        return error(f"{path}:{key_line(item, key, line)}: {message}")
    return fail


def key_line(item: Any, key: str | None, line: int) -> int:
    """The line of ``key`` in the mapping ``item``, else of the item (``line``)."""
    if isinstance(item, PosDict) and key is not None:
        return item.lines.get(key, item.line)
    return line
