"""Test certificates for TLS runs, made on the fly: a CA, a server and a client certificate.

Strategy: ``make_certificates(dir)`` writes a fresh set of PEM files (one
self-signed CA; a server certificate for 127.0.0.1, ::1 and localhost; a
client certificate; all EC P-256, signed by that CA) with the ``cryptography``
package. ``shared_certificates()`` is the set every TLS target and every TLS
run of one machine uses, kept under the gearcheck cache folder
(``$GEARCHECK_CACHE/tls``) and made again when missing or within a day of
expiring. One set matters: the server under test and the extra servers a
case starts must all be trusted by one ``--tls-ca``. Concurrent processes may
race to make it: each writes its own temporary folder and renames it into
place, and the loser uses the winner's. Nothing here is a secret: these keys
only ever protect loopback test traffic.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import paths

VALID_DAYS = 30
_FILES = ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key")


@dataclass(frozen=True)
class CertificateSet:
    """PEM files of one test CA and the server and client certificates it signed."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def complete(self) -> bool:
        return all((self.directory / name).is_file() for name in _FILES)


def make_certificates(directory: Path | str, *, common_name: str = "gearcheck test CA",
                      days: int = VALID_DAYS) -> CertificateSet:
    """Write a new CA, server and client certificate into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=days)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(name(common_name))
               .issuer_name(name(common_name)).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(until)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                            crl_sign=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                              critical=False)
               .sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    write_key(ca_key, directory / "ca.key")

    def leaf(stem: str, subject: str, usage: x509.ObjectIdentifier,
             alt_names: list[x509.GeneralName]) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(subject))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(until)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), critical=False))
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names),
                                            critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, directory / f"{stem}.key")

    leaf("server", "localhost", ExtendedKeyUsageOID.SERVER_AUTH,
         [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
          x509.IPAddress(ipaddress.ip_address("::1"))])
    leaf("client", "gearcheck client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return CertificateSet(directory)


def _expires_soon(path: Path) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return True
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return left < dt.timedelta(days=1)


def shared_certificates(cache_dir: Path | None = None) -> CertificateSet:
    """The machine's one test certificate set (made when missing or nearly expired)."""
    root = cache_dir or paths.cache_dir()
    current = CertificateSet(root / "tls")
    if current.complete() and not _expires_soon(current.server_cert):
        return current
    root.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix="tls-new-", dir=root))
    make_certificates(fresh)
    stale = root / f"tls-old-{os.getpid()}"
    try:
        if current.directory.exists():  # incomplete or expiring: set it aside
            current.directory.rename(stale)
        fresh.rename(current.directory)
    except OSError:
        pass  # another process put a set in place first: use that one
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(stale, ignore_errors=True)
    return current
