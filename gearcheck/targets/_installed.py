"""Where scripts/install-implementations.sh put the servers it builds from public registries.

Strategy: each build lives in ``<cache>/implementations/<name>-<version>/``
(gearcheck.paths.implementations_dir), with a stamp file written last; a
target finds its binary there or raises a ``TargetError`` that names the
script to run. Nothing here builds or downloads: tests and the matrix only
start what the script installed.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ._errors import TargetError

INSTALL_SCRIPT = "scripts/install-implementations.sh"


def installed_file(build: str, relative: str) -> Path:
    """``<cache>/implementations/<build>/<relative>``, which must exist."""
    folder = paths.implementations_dir() / build
    path = folder / relative
    if not path.exists() or not (folder / ".gearcheck-stamp").exists():
        raise TargetError(f"{build} is not installed (no {path}); run {INSTALL_SCRIPT} "
                          "(make test and make matrix run it)")
    return path
