"""The package graph is a stack of layers: imports go down, never up, never in a circle.

The order below is the documented one (README "Layout", and the header of
gearcheck/__init__.py). Every import in gearcheck/ is read with ``ast``, those
under ``if TYPE_CHECKING:`` and inside functions too, since a lazy import is
still a dependency. A new top-level module or package fails the test until it
is given its place here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import gearcheck

PACKAGE = Path(gearcheck.__file__).parent

# bottom first; a unit may import only units on lower rows
LAYERS: list[set[str]] = [
    {"protocol"},                                 # sans-I/O codec: bytes in, events out
    {"wire"},                                     # one blocking, deadline-bounded connection
    # verdicts as data; YAML lines; data files; progress bars and lines; ddmin
    {"results", "yaml_positions", "paths", "progress", "minimize"},
    {"testcerts"},                                # test TLS certificates (in the cache: paths)
    {"targets"},                                  # servers under test, by name or address
    {"engine"},                                   # scenarios: load, run one case
    {"report"},                                   # writers, baseline, gate
    {"runs"},                                     # the one way to run the suite (pytest)
    {"refserver", "swarm", "interop", "robustness", "record", "explore", "chaos"},  # tools,
                                                  # none importing another
    {"commands"},                                 # one module per subcommand
    {"cli"},
    {"__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gearcheck"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "gearcheck":
                continue
            # `from . import paths` imports a module; `from .x import y` imports x
            found |= {f"{name}.{a.name}" for a in node.names} if not node.module or \
                name == "gearcheck" else {name}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for target in _imports(path, module):
            while target not in modules and "." in target:  # `from pkg import name`
                target = target.rpartition(".")[0]
            if target in modules and target != module:
                graph[module].add(target)
    return graph


def _unit(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in _graph()} | {p.stem for p in PACKAGE.glob("*.py")} \
        | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    units -= {"__init__", "gearcheck"}
    assert units - RANK.keys() == set(), "give each new module or package a layer in LAYERS"


def test_imports_only_go_down_the_layers() -> None:
    wrong = sorted(f"{m} imports {t}" for m, targets in _graph().items() for t in targets
                   if _unit(m) != _unit(t) and _unit(m) in RANK and _unit(t) in RANK
                   and RANK[_unit(t)] >= RANK[_unit(m)])
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_module_imports_itself_in_a_circle() -> None:
    assert _cycles(_graph()) == []


def test_no_package_imports_itself_in_a_circle() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _graph().items():
        for target in targets:
            a, b = module.rpartition(".")[0], target.rpartition(".")[0]
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                packages[a].add(b)
    assert _cycles(packages) == []


def test_the_checker_sees_a_cycle_and_an_upward_import() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert RANK["engine"] > RANK["targets"] > RANK["wire"] > RANK["protocol"]
