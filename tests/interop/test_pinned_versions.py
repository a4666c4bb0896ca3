"""The library versions the compatibility table shows are the ones the drivers really run:
each entry of LIBRARY_VERSIONS against the file or package that pins it."""

from __future__ import annotations

import json
import re
import subprocess

from gearcheck import paths
from gearcheck.interop.registry import LIBRARIES, LIBRARY_VERSIONS

DEBIAN = {"php-gearman": "php-gearman", "perl-gearman": "libgearman-client-perl",
          "gearman-cli": "gearman-tools"}
NODE = ("gearman", "gearmanode", "abraxas", "node-gearman")
PYTHON = ("pygearman", "python3-gearman", "gear", "aiogear")


def test_every_library_has_a_version() -> None:
    assert set(LIBRARY_VERSIONS) == set(LIBRARIES)
    assert all(LIBRARY_VERSIONS.values())


def test_versions_match_their_pins() -> None:
    clients = paths.CLIENTS_DIR
    node = json.loads((clients / "node" / "package.json").read_text())["dependencies"]
    for name in NODE:
        assert node[name] == LIBRARY_VERSIONS[name], name
    script = (paths.SCRIPTS_DIR / "install-interop-clients.sh").read_text()
    for name in PYTHON:
        pin = re.escape(f"{name}=={LIBRARY_VERSIONS[name]}")
        assert re.search(rf"(?<![\w.-]){pin}(?![\w.])", script), name
    go_mod = (clients / "go" / "go.mod").read_text()
    assert f"github.com/mikespook/gearman-go {LIBRARY_VERSIONS['gearman-go']}" in go_mod
    cargo = (clients / "rust" / "Cargo.toml").read_text()
    assert f'rustygear = "={LIBRARY_VERSIONS["rustygear"]}"' in cargo
    for name, package in DEBIAN.items():
        installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                                   capture_output=True, text=True, timeout=30).stdout
        assert installed.startswith(LIBRARY_VERSIONS[name]), (name, package, installed)
