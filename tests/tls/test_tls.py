"""TLS end to end: test certificates made on the fly, the reference server and rustygeard (and
gear) speaking TLS, the GM-TLS cases, and the errors a user sees for a wrong set-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gearcheck import paths
from gearcheck.protocol import ProtocolError
from gearcheck.targets import ConfigUnsupported, ProcessTarget
from gearcheck.targets.gear_server import GearServerTarget
from gearcheck.targets.refserver import RefServerTarget
from gearcheck.targets.rustygeard import RustygeardTarget
from gearcheck.testcerts import CertificateSet, make_certificates, shared_certificates
from gearcheck.wire import Connection, ConnectionClosed, TLSClient, TLSFailed, WireError

TLS_CASES = paths.SUITE_DIR / "tls"


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    return make_certificates(tmp_path_factory.mktemp("foreign"), common_name="other CA")


def _served(address: object, tls: TLSClient | None) -> bool:
    """True when an ECHO_REQ over this kind of connection is answered."""
    try:
        with Connection.open(address, timeout=2.0, tls=tls) as conn:  # type: ignore[arg-type]
            conn.echo(b"x", timeout=2.0)
            return True
    except (WireError, ProtocolError):  # ProtocolError: a TLS alert decoded as garbage
        return False


def test_shared_certificates_are_made_once_and_verify(tmp_path: Path) -> None:
    first = shared_certificates(tmp_path)
    again = shared_certificates(tmp_path)
    assert first == again and first.complete()
    assert first.server_cert.read_bytes() == again.server_cert.read_bytes()  # not remade
    out = subprocess.run(["openssl", "verify", "-CAfile", str(first.ca), str(first.server_cert),
                          str(first.client_cert)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("cls", [RefServerTarget, RustygeardTarget], ids=["refserver",
                                                                          "rustygeard"])
def test_a_server_requiring_client_certificates(cls: type[ProcessTarget], tmp_path: Path,
                                                foreign: CertificateSet) -> None:
    with cls(tls="mutual", log_dir=tmp_path) as target:
        good = target.client_tls
        assert good is not None and good.cert is not None
        assert _served(target.address, good)
        # a server requiring TLS refuses plaintext
        assert not _served(target.address, None)
        # a required client certificate is checked: missing, or signed by another CA
        assert not _served(target.address, TLSClient(ca=good.ca))
        assert not _served(target.address, TLSClient(ca=good.ca, cert=foreign.client_cert,
                                                     key=foreign.client_key))
        # a wrong CA fails cleanly: one error naming the certificate problem
        with pytest.raises(TLSFailed) as failed:
            Connection.open(target.address, timeout=2.0,
                            tls=TLSClient(ca=foreign.ca, cert=good.cert, key=good.key))
        message = str(failed.value)
        assert "certificate" in message and "\n" not in message
        assert _served(target.address, good)  # and the server still serves


def test_missing_client_certificate_reads_as_one_clear_error(tmp_path: Path) -> None:
    with RustygeardTarget(tls="mutual", log_dir=tmp_path) as target:
        assert target.client_tls is not None
        with Connection.open(target.address, timeout=2.0,
                             tls=TLSClient(ca=target.client_tls.ca)) as conn, \
                pytest.raises(ConnectionClosed, match="certificate required"):
            conn.echo(b"x", timeout=2.0)


def _run_tls_cases(tmp_path: Path, *args: str) -> dict[str, str]:
    report = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "pytest", str(TLS_CASES), "-q",
                           "-p", "no:cacheprovider", "--report-dir", str(report), *args],
                          capture_output=True, text=True, timeout=120, check=False)
    path = report / "report.json"
    assert path.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(path.read_text())
    return {r["case_id"]: r["verdict"] for r in data["results"]}


@pytest.mark.parametrize("target", ["refserver-tls", "rustygeard-0.15.0-tls", "gear-tls"])
def test_the_tls_cases_pass_against_servers_that_check(target: str, tmp_path: Path) -> None:
    verdicts = _run_tls_cases(tmp_path, "--target", target)
    assert verdicts == {"GM-TLS-001": "PASS", "GM-TLS-002": "PASS", "GM-TLS-003": "PASS",
                        "GM-TLS-004": "PASS"}


def test_the_tls_cases_catch_a_server_that_asks_for_no_client_certificate(
        tmp_path: Path) -> None:
    certs = shared_certificates()
    with RefServerTarget(tls="server", log_dir=tmp_path / "server") as target:
        verdicts = _run_tls_cases(tmp_path, "--server", str(target.address), "--tls",
                                  "--tls-ca", str(certs.ca), "--tls-cert",
                                  str(certs.client_cert), "--tls-key", str(certs.client_key))
    assert verdicts == {"GM-TLS-001": "PASS", "GM-TLS-002": "FAIL", "GM-TLS-003": "FAIL",
                        "GM-TLS-004": "PASS"}


def test_a_plaintext_run_reports_the_tls_cases_unsupported(tmp_path: Path,
                                                           refserver: RefServerTarget) -> None:
    verdicts = _run_tls_cases(tmp_path, "--server", str(refserver.address))
    assert set(verdicts.values()) == {"UNSUPPORTED"}


def _conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gearcheck", "conformance", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_wrong_ca_is_one_line_and_exit_2(tmp_path: Path, foreign: CertificateSet) -> None:
    certs = shared_certificates()
    with RefServerTarget(tls="mutual", log_dir=tmp_path) as target:
        out = _conformance("--server", str(target.address), "--tls", "--tls-ca",
                           str(foreign.ca), "--tls-cert", str(certs.client_cert),
                           "--tls-key", str(certs.client_key), "--out", str(tmp_path / "r"))
    assert out.returncode == 2
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert len(lines) == 1 and "certificate was not accepted" in lines[0], lines
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--tls-ca", "{ca}"], "gearcheck conformance: --tls-ca need(s) --tls"),
    (["--tls", "--tls-ca", "/nonexistent/ca.pem"],
     "gearcheck conformance: argument --tls-ca: no such file: /nonexistent/ca.pem "
     "(see gearcheck conformance --help)"),
])
def test_tls_option_mistakes_are_one_line(args: list[str], message: str) -> None:
    args = [a.format(ca=shared_certificates().ca) for a in args]
    out = _conformance("--server", "127.0.0.1:1", *args)
    assert out.returncode == 2
    assert (out.stdout + out.stderr).strip() == message


def test_refserver_tls_options_are_checked() -> None:
    out = subprocess.run([sys.executable, "-m", "gearcheck.refserver", "--port", "0",
                          "--tls-cert", str(shared_certificates().server_cert)],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2 and "--tls-cert and --tls-key go together" in out.stdout + out.stderr


def test_gear_offers_only_mutual_tls(tmp_path: Path) -> None:
    with pytest.raises(ConfigUnsupported, match="always requires client certificates"):
        GearServerTarget(tls="server", log_dir=tmp_path).start()
