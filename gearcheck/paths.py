"""Where gearcheck's own files are: the suite, its schemas, baselines, load profiles,
the server registry, the interop scenarios, client drivers and chaos reproducers.

Strategy: they ship inside the package, under ``gearcheck/data``. In a checkout
that folder holds links to the top-level folders people edit (conformance/,
load/profiles/, fixtures/), so an editable install, a built wheel and a
checkout all find them through ``importlib.resources`` under the same names.
Paths are resolved, so messages name conformance/echo/... rather than the link.
No other module locates a data file; none walks up from its own ``__file__``.

The client drivers (fixtures/clients) and the install scripts (scripts/) are
not package data: the drivers need the libraries those scripts install into a
checkout, so a wheel has neither and interop runs from a checkout.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DATA = Path(str(resources.files("gearcheck") / "data"))

SUITE_DIR = (DATA / "conformance").resolve()
SCENARIO_SCHEMA = SUITE_DIR / "scenario.schema.json"
MIRRORED_SCHEMA = SUITE_DIR / "mirrored.schema.json"
BASELINES_DIR = (DATA / "baselines").resolve()
SERVERS_FILE = (DATA / "servers.yaml").resolve()
PROFILES_DIR = (DATA / "profiles").resolve()
INTEROP_DIR = (DATA / "interop").resolve()
CLIENTS_DIR = (DATA / "clients").resolve()
SCRIPTS_DIR = (DATA / "scripts").resolve()
SERVER_BUILDS_DIR = (DATA / "servers").resolve()  # fixtures/servers: what pins non-Debian servers
CHAOS_REPRODUCERS_DIR = (DATA / "chaos").resolve()   # minimal plans of the chaos findings


def cache_dir() -> Path:
    """gearcheck's cache on this machine ($GEARCHECK_CACHE, default ~/.cache/gearcheck).

    scripts/install-implementations.sh builds registry servers into its
    ``implementations/`` folder; TLS runs keep their test certificates in ``tls/``.
    """
    return Path(os.environ.get("GEARCHECK_CACHE") or Path.home() / ".cache" / "gearcheck")


def implementations_dir() -> Path:
    return cache_dir() / "implementations"


class DataNotFound(FileNotFoundError):
    """A named data file (a profile, a baseline) is not where gearcheck keeps them."""


def profile_path(name_or_path: str | Path) -> Path:
    """A load profile: an existing path as given, else a shipped profile by name."""
    given = Path(name_or_path)
    if given.exists():
        return given
    stem = given.name.removesuffix(".yaml").removesuffix(".yml")
    shipped = PROFILES_DIR / f"{stem}.yaml"
    if shipped.exists() and given.parent in (Path("."), Path("load/profiles")):
        return shipped
    names = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
    raise DataNotFound(f"no load profile {str(name_or_path)!r}: not a file, and not a shipped "
                       f"profile ({names})")

