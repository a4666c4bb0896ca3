"""The Perl Gearman::Server (Debian's gearman-server, /usr/bin/gearmand).

Debian installs it as /usr/bin/gearmand, the same name as the C server in
/usr/sbin, so PATH order would decide which one runs. This target never
relies on PATH: it runs the script through ``perl`` explicitly, on loopback
(``-L 127.0.0.1``) and a free port. It answers ECHO, so readiness is the
default ECHO probe. It has no log-file option: what it prints goes to the
target's log file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ._base import ProcessTarget
from ._errors import TargetError

PERL_GEARMAND_PATH = "/usr/bin/gearmand"


def perl_gearmand_script() -> str:
    path = Path(PERL_GEARMAND_PATH)
    try:
        head = path.read_bytes()[:64]
    except OSError:
        head = b""
    if not head.startswith(b"#!") or b"perl" not in head:
        raise TargetError(f"the Perl Gearman::Server script is not installed at "
                          f"{PERL_GEARMAND_PATH}; run scripts/install-system-deps.sh "
                          "(Debian package gearman-server)")
    return str(path)


def perl_binary() -> str:
    found = shutil.which("perl")
    if not found:
        raise TargetError("perl is not installed; run scripts/install-system-deps.sh")
    return found


class PerlServerTarget(ProcessTarget):
    name = "perl-gearman-server"

    def __init__(self, *, extra_args: list[str] | None = None, debug: bool = False,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.extra_args = list(extra_args or [])
        self.debug = debug

    def command(self, port: int) -> list[str]:
        argv = [perl_binary(), perl_gearmand_script(), "-L", self.host, "-p", str(port)]
        if self.debug:
            argv.append("--debug=1")
        return [*argv, *self.extra_args]

    @staticmethod
    def version() -> str:
        out = subprocess.run([perl_binary(), perl_gearmand_script(), "--version"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().removeprefix("Gearman::Server").strip()
