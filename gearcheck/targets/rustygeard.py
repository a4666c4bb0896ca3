"""rustygeard, the Rust job server from crates.io (SpamapS/rustygear), as a child process.

scripts/install-implementations.sh builds it once (``cargo install --locked
--features tls``) into gearcheck's cache; this target runs that binary on a
free loopback port (``-L 127.0.0.1:PORT``). It answers ECHO, so readiness is
the default probe. It offers TLS (``--tls --tls-cert --tls-key``, and
``--tls-ca`` to require client certificates signed by that CA), so both TLS
modes map to its own flags. It has no flags for exceptions, retries or a
persistent queue: those configurations are unsupported.
"""

from __future__ import annotations

import subprocess

from ..testcerts import CertificateSet
from ._base import ProcessTarget
from ._installed import installed_file

VERSION = "0.15.0"
BUILD = f"rustygeard-{VERSION}"


def rustygeard_binary() -> str:
    return str(installed_file(BUILD, "bin/rustygeard"))


class RustygeardTarget(ProcessTarget):
    name = "rustygeard"

    def __init__(self, *, log_filter: str = "warn", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.log_filter = log_filter

    def command(self, port: int) -> list[str]:
        return [rustygeard_binary(), "-L", f"{self.host}:{port}"]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "RUST_LOG": self.log_filter}

    def tls_arguments(self, certs: CertificateSet, *, mutual: bool) -> list[str]:
        argv = ["--tls", "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)]
        return argv + (["--tls-ca", str(certs.ca)] if mutual else [])

    @staticmethod
    def version() -> str:
        out = subprocess.run([rustygeard_binary(), "--version"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.split()[-1] if out.stdout.split() else out.stdout.strip()
