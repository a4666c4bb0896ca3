"""The job server of PyPI's ``gear`` (OpenStack's gear.Server), in a child process.

gear is a dependency of gearcheck (pyproject), so it runs on the harness's own
interpreter through the tiny launcher module ``_gear_launcher``. gear.Server
does not answer ECHO_REQ, so readiness is probed with the admin ``status``
command instead. gear.Server's TLS always requires a client certificate (it
takes key, certificate and CA together), so only ``tls="mutual"`` maps to it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

from ..testcerts import CertificateSet
from ._base import ProcessTarget
from ._errors import ConfigUnsupported, TargetError


def gear_version() -> str:
    try:
        return importlib.metadata.version("gear")
    except importlib.metadata.PackageNotFoundError as exc:
        raise TargetError("PyPI package 'gear' is not installed in this environment; "
                          "run `make setup` (it is a gearcheck dependency)") from exc


class GearServerTarget(ProcessTarget):
    name = "gear"
    probe = "status"

    def __init__(self, *, python: str | None = None, log_level: str = "WARNING",
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.python = python or sys.executable
        self.log_level = log_level

    def command(self, port: int) -> list[str]:
        if self.python == sys.executable and importlib.util.find_spec("gear") is None:
            gear_version()  # raises the clear error
        return [self.python, "-m", "gearcheck.targets._gear_launcher",
                "--host", self.host, "--port", str(port), "--log-level", self.log_level]

    def tls_arguments(self, certs: CertificateSet, *, mutual: bool) -> list[str]:
        if not mutual:
            raise ConfigUnsupported(f"{self.name}: gear.Server's TLS always requires client "
                                    "certificates (ssl_key, ssl_cert and ssl_ca together)")
        return ["--ssl-cert", str(certs.server_cert), "--ssl-key", str(certs.server_key),
                "--ssl-ca", str(certs.ca)]

    @staticmethod
    def version() -> str:
        return gear_version()
