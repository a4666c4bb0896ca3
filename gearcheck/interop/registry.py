"""Which client libraries the interop matrix drives, and what each can do.

Strategy: one ``Library`` record per library, written from what
shared/reference/interop.md measured: how to start its client and worker
drivers (fixtures/clients/<language>/, one contract for all, see
fixtures/clients/CONTRACT.md) and the features each side offers. A scenario
names the features it needs; a pair missing one gets UNSUPPORTED with the
reason, never FAIL. Bugs are not features: a library that offers something
and gets it wrong stays in the run and its failure goes to the baseline.

``ensure_installed`` runs scripts/install-interop-clients.sh when a driver's
runtime (node_modules, a venv, the PHP extension) is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from .. import paths

CLIENTS_DIR = paths.CLIENTS_DIR
INSTALL_SCRIPT = paths.SCRIPTS_DIR / "install-interop-clients.sh"

# Feature vocabulary (scenarios use these names in `requires`):
#   foreground background priorities bg_priorities unique status_poll
#   data warning status exception fail binary large nonascii_function
#   unique_visible (worker sees the client's unique id)
ALL_CLIENT = frozenset({
    "foreground", "background", "priorities", "bg_priorities", "unique", "status_poll", "data",
    "warning", "status", "exception", "fail", "binary", "large", "nonascii_function"})
ALL_WORKER = frozenset({
    "foreground", "data", "warning", "status", "exception", "fail", "binary", "large",
    "nonascii_function", "unique_visible"})


@dataclass(frozen=True)
class Library:
    name: str
    language: str  # php, node, python
    client_features: frozenset[str]
    worker_features: frozenset[str]
    notes: dict[str, str] = field(default_factory=dict)  # feature -> why it is missing
    driver: str = ""  # python: the drivers' file prefix (<driver>_client.py), "" = client.py

    def argv(self, role: str) -> list[str]:
        """The command that starts this library's driver for ``role`` (client/worker)."""
        if role not in ("client", "worker"):
            raise ValueError(f"role must be client or worker, not {role!r}")
        folder = CLIENTS_DIR / self.language
        if self.language == "php":
            return ["php", str(folder / f"{role}.php")]
        if self.language == "node":
            return ["node", str(folder / f"{self.name}-{role}.js")]
        python = folder / f"venv-{self.name}" / "bin" / "python"
        script = f"{self.driver}_{role}.py" if self.driver else f"{role}.py"
        return [str(python), str(folder / script), self.name]

    def features(self, role: str) -> frozenset[str]:
        return self.client_features if role == "client" else self.worker_features

    def runtime_present(self) -> bool:
        if self.language == "php":
            return shutil.which("php") is not None and _php_has_gearman()
        if self.language == "node":
            return (CLIENTS_DIR / "node" / "node_modules" / self.name / "package.json").exists()
        return (CLIENTS_DIR / "python" / f"venv-{self.name}" / ".gearcheck-stamp").exists()


def _php_has_gearman() -> bool:
    try:
        out = subprocess.run(["php", "-m"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "gearman" in out.stdout.split()


LIBRARIES: dict[str, Library] = {lib.name: lib for lib in [
    Library("php-gearman", "php", ALL_CLIENT, ALL_WORKER),
    Library("gearman", "node", ALL_CLIENT, ALL_WORKER),
    Library("gearmanode", "node", ALL_CLIENT, ALL_WORKER),
    Library(
        "abraxas", "node",
        ALL_CLIENT - {"data"},
        ALL_WORKER - {"data"},
        notes={"data": "abraxas merges WORK_DATA into the result (client) and buffers "
                       "written data into WORK_COMPLETE (worker) unless its own server's "
                       "streaming mode is on"}),
    Library(
        "node-gearman", "node",
        frozenset({"foreground", "background", "priorities", "bg_priorities", "unique", "data",
                   "fail", "binary", "large", "nonascii_function"}),
        frozenset({"foreground", "data", "fail", "binary", "large", "nonascii_function"}),
        notes={"status_poll": "no GET_STATUS, and no handle for background jobs",
               "warning": "no WORK_WARNING on either side",
               "status": "no WORK_STATUS on either side",
               "exception": "no WORK_EXCEPTION on either side",
               "unique_visible": "the worker grabs with GRAB_JOB: no unique id"}),
    Library(
        "pygearman", "python", ALL_CLIENT, ALL_WORKER),
    Library(
        "python3-gearman", "python",
        ALL_CLIENT - {"binary"},
        ALL_WORKER - {"binary"},
        notes={"binary": "str-only API: bytes raise TypeError (interop.md section 5)"}),
    Library(
        "gear", "python",
        ALL_CLIENT - {"status_poll"},
        ALL_WORKER,
        notes={"status_poll": "gear.Client sends no GET_STATUS (no getStatus() in 0.16.0)"},
        driver="gear"),
]}

# php-gearman's client implements the worker-side 'unique' as GRAB_JOB_ALL;
# every library in the table offers what it offers to both server kinds.


def library(name: str) -> Library:
    try:
        return LIBRARIES[name]
    except KeyError:
        raise ValueError(f"unknown client library {name!r}; known: "
                         f"{', '.join(LIBRARIES)}") from None


def missing_feature(lib: Library, role: str, required: list[str]) -> str | None:
    """Why ``lib`` cannot play ``role`` for these features (None when it can)."""
    lacking = [f for f in required if f not in lib.features(role)]
    if not lacking:
        return None
    reasons = [f"{f} ({lib.notes[f]})" if f in lib.notes else f for f in lacking]
    return f"{lib.name} {role} lacks: {'; '.join(reasons)}"


def ensure_installed(libraries: list[Library] | None = None) -> None:
    """Install the libraries' runtimes with the project script when any is missing."""
    libs = libraries or list(LIBRARIES.values())
    if all(lib.runtime_present() for lib in libs):
        return
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{INSTALL_SCRIPT} failed (exit {result.returncode}):\n"
                           f"{result.stderr[-2000:]}")
    still = [lib.name for lib in libs if not lib.runtime_present()]
    if still:
        raise RuntimeError(f"after {INSTALL_SCRIPT}, still missing: {', '.join(still)}")
