"""Run the conformance suite against one address and get its ``RunReport`` back.

Strategy: the suite is run the way users run it, through pytest and the
engine's plugin (``--server``, ``--target``, ``--report-dir``), in a child
process so every server gets a fresh interpreter, its own xdist workers and a
deadline. The plugin writes report.json into the given directory; this module
reads it back through the schema-checked loader. pytest's own exit code is
not the verdict (failing cases make it non-zero); a missing or unreadable
report.json is the error, with the tail of pytest's output.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import paths
from ..results import RunReport
from ..wire import Address
from .json_report import ReportFormatError, load_report

DEFAULT_SUITE = paths.SUITE_DIR


class SuiteRunError(RuntimeError):
    """The suite did not produce a report for this server."""


def suite_command(address: Address, name: str, report_dir: Path, *,
                  suite: Sequence[Path | str] = (DEFAULT_SUITE,), workers: int = 0,
                  extra_args: Sequence[str] = ()) -> list[str]:
    argv = [sys.executable, "-m", "pytest", *(str(p) for p in suite),
            "--server", str(address), "--target", name, "--report-dir", str(report_dir),
            "--manage-extra-servers",
            "-q", "-p", "no:cacheprovider", "--rootdir", str(Path(__file__).resolve().parents[2]),
            "-o", "addopts=--import-mode=importlib"]
    if workers > 0:
        argv += ["-n", str(workers)]
    return [*argv, *extra_args]


def run_suite(address: Address, name: str, report_dir: Path, *,
              suite: Sequence[Path | str] = (DEFAULT_SUITE,), workers: int = 0,
              extra_args: Sequence[str] = (), timeout_s: float = 900.0) -> RunReport:
    report_dir.mkdir(parents=True, exist_ok=True)
    stale = report_dir / "report.json"
    stale.unlink(missing_ok=True)
    argv = suite_command(address, name, report_dir, suite=suite, workers=workers,
                         extra_args=extra_args)
    log_path = report_dir / "pytest.log"
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise SuiteRunError(f"{name}: the suite did not finish within {timeout_s:.0f} s "
                                f"(log: {log_path})") from exc
    if not stale.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-12:])
        raise SuiteRunError(f"{name}: pytest exited {proc.returncode} without writing "
                            f"{stale}\n{tail}")
    try:
        return load_report(stale)
    except ReportFormatError as exc:
        raise SuiteRunError(f"{name}: {exc}") from exc


class PytestSuiteRunner:
    """A ``SuiteRunner`` for the matrix: the suite paths and options fixed, the server varying."""

    def __init__(self, suite: Sequence[Path | str] = (DEFAULT_SUITE,), *, workers: int = 0,
                 extra_args: Sequence[str] = (), timeout_s: float = 900.0) -> None:
        self.suite = list(suite)
        self.workers = workers
        self.extra_args = list(extra_args)
        self.timeout_s = timeout_s

    def __call__(self, address: Address, name: str, outdir: Path) -> RunReport:
        return run_suite(address, name, outdir, suite=self.suite, workers=self.workers,
                         extra_args=self.extra_args, timeout_s=self.timeout_s)
