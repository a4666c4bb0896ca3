"""gearcheck as users install it: the built wheel in a venv of its own, run from an empty folder.

The venv (gearcheck's dependencies) is made once and kept in ~/.cache/gearcheck,
keyed by the dependency list in pyproject.toml; each run builds the wheel afresh
and reinstalls it alone, so what is tested is this checkout's package data and
code, found without the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gearcheck.targets import GearmandTarget

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gearcheck"


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a venv holding the wheel built from this checkout."""
    built = tmp_path_factory.mktemp("wheel")
    proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w",
                 str(built)], cwd=built)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    wheel = next(built.glob("gearcheck-*.whl"))
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    venv = CACHE / f"wheel-venv-{hashlib.sha256(json.dumps(deps).encode()).hexdigest()[:12]}"
    if not (venv / "bin" / "python").exists():
        shutil.rmtree(venv, ignore_errors=True)
        assert _run([sys.executable, "-m", "venv", str(venv)], cwd=built).returncode == 0
        proc = _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], cwd=built,
                    timeout=900)
        assert proc.returncode == 0, proc.stderr
    proc = _run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall",
                 str(wheel)], cwd=built)
    assert proc.returncode == 0, proc.stderr
    return venv / "bin"


@pytest.mark.slow
def test_the_wheel_runs_from_an_empty_folder(installed: Path, gearmand: GearmandTarget,
                                             tmp_path: Path) -> None:
    gearcheck = str(installed / "gearcheck")
    where = _run([str(installed / "python"), "-c", "import gearcheck; print(gearcheck.__file__)"],
                 cwd=tmp_path)
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout
    assert _run([gearcheck, "--version"], cwd=tmp_path).stdout.startswith("gearcheck ")

    assert _run([gearcheck, "schema"], cwd=tmp_path).returncode == 0
    assert json.loads((tmp_path / "scenario.schema.json").read_text())["$id"]

    conformance = _run([gearcheck, "conformance", "--server", str(gearmand.address),
                        "-k", "GM-ECHO", "--out", "echo"], cwd=tmp_path)
    assert conformance.returncode == 0, conformance.stdout + conformance.stderr
    assert "gearmand-1.1.20.yaml" in conformance.stdout  # the shipped baseline, by version
    report = json.loads((tmp_path / "echo" / "report.json").read_text())
    assert report["counts"]["PASS"] >= 8 and (tmp_path / "echo" / "report.html").is_file()

    matrix = _run([gearcheck, "matrix", "--only", "refserver,gearmand", "--case", "GM-ECHO-001",
                   "--processes", "0"], cwd=tmp_path)
    assert matrix.returncode == 0, matrix.stdout + matrix.stderr
    rows = json.loads((tmp_path / "reports" / "matrix" / "matrix.json").read_text())["cases"]
    assert {c: v["verdict"] for c, v in rows[0]["cells"].items()} == {
        "refserver": "PASS", "gearmand-1.1.20": "PASS"}

    load = _run([gearcheck, "load", "--profile", "steady-foreground", "--duration", "2s",
                 "--server", str(gearmand.address), "--out", "load"], cwd=tmp_path)
    assert load.returncode == 0, load.stdout + load.stderr
    summary = json.loads((tmp_path / "load" / "summary.json").read_text())
    assert summary["invariants"]["lost"] == 0
