"""Which client libraries the interop matrix drives, and what each can do.

Strategy: one ``Library`` record per library, written from what
shared/reference/interop.md and docs/findings.md measured: how to start its
client and worker drivers (fixtures/clients/<language>/, one contract for all,
see fixtures/clients/CONTRACT.md) and the features each side offers. How a
driver starts and how its runtime is recognised depend on the language only
(an interpreter and a script, a binary built by the install script, a JVM
with the copied jars). A scenario
names the features it needs; a pair missing one gets UNSUPPORTED with the
reason, never FAIL. Bugs are not features: a library that offers something
and gets it wrong stays in the run and its failure goes to the baseline.

``ensure_installed`` runs scripts/install-interop-clients.sh when a driver's
runtime (node_modules, a venv, the PHP extension, a Go or Rust binary, the
Java jars, the Perl module, the gearman tool) is missing. ``EXCLUDED`` holds
libraries whose drivers build but cannot finish a job here: they stay out of
the default matrix (each would spin until killed) and docs/findings.md says
why, with the test that shows it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

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
    language: str  # php, node, python, go, rust, java, perl, cli
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
        if self.language == "go":
            return [str(folder / "bin" / f"{self.name}-{role}")]
        if self.language == "rust":
            return [str(folder / "target" / "release" / f"{self.name}-{role}")]
        if self.language == "java":
            classpath = f"{folder / 'classes'}:{folder / 'lib' / self.name}/*"
            main = "".join(p.title() for p in self.name.split("-")) + role.title()
            return ["java", *JAVA_OPTIONS, "-cp", classpath, f"gearcheck.{main}"]
        if self.language == "perl":
            return ["perl", str(folder / f"{role}.pl")]
        if self.language == "cli":
            return [sys.executable, str(folder / f"{role}.py")]
        python = folder / f"venv-{self.name}" / "bin" / "python"
        script = f"{self.driver}_{role}.py" if self.driver else f"{role}.py"
        return [str(python), str(folder / script), self.name]

    def features(self, role: str) -> frozenset[str]:
        return self.client_features if role == "client" else self.worker_features

    def runtime_present(self) -> bool:
        folder = CLIENTS_DIR / self.language
        if self.language == "php":
            return shutil.which("php") is not None and _php_has_gearman()
        if self.language == "node":
            return (folder / "node_modules" / self.name / "package.json").exists()
        if self.language in ("go", "rust"):
            return all(Path(self.argv(role)[0]).exists() for role in ("client", "worker"))
        if self.language == "java":
            return (folder / "classes" / ".gearcheck-stamp").exists() and \
                (folder / "lib" / self.name / ".gearcheck-stamp").exists()
        if self.language == "perl":
            return _perl_has("Gearman::Client") and _perl_has("Gearman::Worker")
        if self.language == "cli":
            return shutil.which("gearman") is not None
        return (folder / f"venv-{self.name}" / ".gearcheck-stamp").exists()


# A driver JVM starts in about a third of a second with these; the drivers are short-lived.
JAVA_OPTIONS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-Dlog4j.configuration=file:/dev/null")


def _perl_has(module: str) -> bool:
    try:
        return subprocess.run(["perl", f"-M{module}", "-e", "1"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


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
    Library(
        "gearman-go", "go",
        ALL_CLIENT,
        ALL_WORKER),
    Library(
        "rustygear", "rust",
        ALL_CLIENT - {"priorities", "bg_priorities"},
        frozenset({"foreground", "status", "fail", "binary", "large", "nonascii_function",
                   "unique_visible"}),
        notes={"priorities": "rustygear 0.15 submits only SUBMIT_JOB and SUBMIT_JOB_BG "
                             "(no high or low priority call)",
               "bg_priorities": "no high or low background call either",
               "data": "the worker API has no WORK_DATA call (only send_packet with a "
                       "hand-built packet)",
               "warning": "the worker API has no WORK_WARNING call",
               "exception": "a worker function returns Ok (WORK_COMPLETE) or Err "
                            "(WORK_FAIL): no WORK_EXCEPTION"}),
    Library(
        "perl-gearman", "perl",
        ALL_CLIENT,
        ALL_WORKER - {"unique_visible"},
        notes={"unique_visible": "Gearman::Worker grabs with GRAB_JOB: no unique id"}),
    Library(
        "gearman-cli", "cli",
        frozenset({"foreground", "background", "priorities", "bg_priorities", "unique",
                   "exception", "fail", "binary", "large", "nonascii_function"}),
        frozenset({"foreground", "fail", "binary", "large", "nonascii_function"}),
        notes={"status_poll": "the gearman tool has no GET_STATUS",
               "data": "client: WORK_DATA is printed on stdout in the middle of the result; "
                       "worker: only -n, which sends every output line as WORK_DATA",
               "warning": "the tool neither shows nor sends WORK_WARNING",
               "status": "the tool neither shows nor sends WORK_STATUS",
               "exception": "`gearman -w` has no WORK_EXCEPTION (a failing command is "
                            "WORK_FAIL)",
               "unique_visible": "the command a `gearman -w` runs gets only the payload"}),
    Library(
        "aiogear", "python",
        ALL_CLIENT - {"data", "warning", "status"},
        frozenset({"foreground", "exception", "binary", "large", "nonascii_function",
                   "unique_visible"}),
        notes={"data": "aiogear.Client logs WORK_DATA as an unexpected message (only "
                       "CallbackClient relays it); its Worker has no WORK_DATA call",
               "warning": "aiogear.Client drops WORK_WARNING; its Worker cannot send one",
               "status": "aiogear.Client drops WORK_STATUS; its Worker cannot send one",
               "fail": "aiogear's Worker sends WORK_FAIL only for an unknown function: a "
                       "raised error is WORK_EXCEPTION"},
        driver="aiogear"),
]}

# The version of each library the drivers run, as pinned where it is installed from
# (tests/interop/test_pinned_versions.py checks each against its pin): Debian packages
# (scripts/install-system-deps.sh), fixtures/clients/node/package.json, the PY_LIBS of
# scripts/install-interop-clients.sh, fixtures/clients/go/go.mod, fixtures/clients/rust/Cargo.toml.
LIBRARY_VERSIONS: dict[str, str] = {
    "php-gearman": "2.1.0",          # Debian php-gearman 2.1.0+1.1.2
    "gearman": "2.1.0",
    "gearmanode": "0.9.2",
    "abraxas": "2.1.10",
    "node-gearman": "0.2.2",
    "pygearman": "0.2.6",
    "python3-gearman": "0.1.0",
    "gear": "0.16.0",
    "aiogear": "0.2.6",
    "gearman-go": "v0.0.0-20220520031403-2a518e866145",
    "rustygear": "0.15.0",
    "perl-gearman": "2.004.015",     # Debian libgearman-client-perl
    "gearman-cli": "1.1.20",         # Debian gearman-tools
}

# Built and installed like the others, but no job completes: listed here, kept out of
# the default matrix and the harness-as-server run, shown by tests/interop/test_excluded.py
# and docs/findings.md ("Client libraries").
EXCLUDED: dict[str, tuple[Library, str]] = {
    "gearman-java": (
        Library("gearman-java", "java", ALL_CLIENT, ALL_WORKER),
        "org.gearman:gearman-java 0.6 on OpenJDK 17: the client never reports a result "
        "after JOB_CREATED and the worker never takes a job after its first NO_JOB; both "
        "spin at 100% CPU until killed"),
}

# php-gearman's client implements the worker-side 'unique' as GRAB_JOB_ALL;
# every library in the table offers what it offers to both server kinds.


def library(name: str) -> Library:
    if name in EXCLUDED:
        return EXCLUDED[name][0]
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
    libs = libraries or [*LIBRARIES.values(), *(lib for lib, _ in EXCLUDED.values())]
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
