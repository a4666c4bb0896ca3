"""What is TLS's own in a run over TLS: the ``tls_refused`` step and the ``tls:*`` capabilities.

Strategy: a run over TLS (``--tls``; gearcheck.wire's process default) is
told apart from a plaintext one by two capabilities the probe adds:
``tls:on`` (the run speaks TLS) and ``tls:client-cert`` (the run presents a
client certificate, which it is given only for servers that require one).
TLS cases ``require`` them, so a plaintext run reports them UNSUPPORTED with
that reason instead of failing.

``tls_refused: {as: WAY}`` opens one connection to the server under test the
wrong way and passes when the server does not serve it:

  plaintext            no TLS at all
  no_client_cert       TLS, trusting the right CA, but no client certificate
  foreign_client_cert  a client certificate signed by another CA
  untrusted_ca         TLS with a CA that did not sign the server's certificate
                       (our side must refuse: the handshake fails with a
                       certificate error, one message, and nothing is sent)

After the connection opens, the step sends an ECHO_REQ and an admin
``status`` (some servers answer only one of them). Refused means: the
handshake failed, or the connection was closed, or the server sent bytes that
are not Gearman (a TLS alert), or nothing came before the deadline. Any
Gearman packet or admin text line is a FAIL: the server served a connection it
should have turned away. The evidence says
which of these happened; the transcript has a note per attempt.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from ..protocol import Packet, PacketType, ProtocolError
from ..results import FailureKind
from ..testcerts import CertificateSet, make_certificates
from ..wire import (
    Address,
    ConnectFailed,
    Connection,
    ConnectTimeout,
    TLSClient,
    TLSFailed,
    WireError,
    default_tls,
)
from .actors import Transcript
from .outcome import HarnessError, StepFailure


class CaseRuntime(Protocol):
    """What the step needs of engine.steps.CaseRuntime (named here: steps imports this module)."""

    address: Address
    transcript: Transcript

    def window(self, requested: float | None) -> tuple[float, float, float]: ...

WAYS = ("plaintext", "no_client_cert", "foreign_client_cert", "untrusted_ca")
CAPABILITIES = ("tls:on", "tls:client-cert")
TLS_REFUSED_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["as"],
    "description": "connect to the server under test the wrong way (see gearcheck.engine."
                   "tls_checks) and expect it not to be served",
    "properties": {"as": {"enum": list(WAYS)},
                   "within": {"type": "number", "exclusiveMinimum": 0,
                              "description": "seconds to wait for an answer (default: the "
                                             "case timeout)"}}}

_foreign: CertificateSet | None = None


def capabilities() -> dict[str, dict[str, Any]]:
    """The ``tls:*`` part of a probe profile, from this process's TLS settings."""
    tls = default_tls()
    if tls is None:
        off = "the run is plaintext (TLS cases need --tls and a server that speaks TLS)"
        return {"tls:on": {"supported": False, "evidence": off},
                "tls:client-cert": {"supported": False, "evidence": off}}
    cert = (f"the run presents the client certificate {tls.cert} (given only for servers "
            "that require one)" if tls.cert else
            "the run presents no client certificate (--tls-cert), so the server is not "
            "taken to require one")
    return {"tls:on": {"supported": True, "evidence": f"the run connects with {tls.describe()}"},
            "tls:client-cert": {"supported": tls.cert is not None, "evidence": cert}}


def _foreign_certificates() -> CertificateSet:
    """A second CA and its certificates, made once per process, trusted by nobody."""
    global _foreign
    if _foreign is None:
        folder = Path(tempfile.mkdtemp(prefix="gearcheck-foreign-ca-"))
        _foreign = make_certificates(folder, common_name="gearcheck foreign CA", days=2)
    return _foreign


def client_for(way: str, run_tls: TLSClient) -> TLSClient | None:
    """The wrong way to connect named ``way``, given how the run connects."""
    if way == "plaintext":
        return None
    if way == "no_client_cert":
        return TLSClient(ca=run_tls.ca, server_name=run_tls.server_name)
    foreign = _foreign_certificates()
    if way == "foreign_client_cert":
        return TLSClient(ca=run_tls.ca, cert=foreign.client_cert, key=foreign.client_key,
                         server_name=run_tls.server_name)
    return TLSClient(ca=foreign.ca, cert=run_tls.cert, key=run_tls.key,
                     server_name=run_tls.server_name)


def step_tls_refused(rt: CaseRuntime, body: dict[str, Any]) -> None:
    way = body["as"]
    run_tls = default_tls()
    if run_tls is None:
        raise HarnessError("tls_refused needs a run over TLS (--tls); the case should require "
                           "tls:on")
    _, _, seconds = rt.window(body.get("within"))
    actor = f"tls-{way}"
    try:
        conn = Connection.open(rt.address, timeout=seconds, tls=client_for(way, run_tls))
    except TLSFailed as exc:
        rt.transcript.note(actor, "refused during the TLS handshake", error=str(exc))
        return
    except ConnectTimeout as exc:
        rt.transcript.note(actor, "the TLS handshake did not finish", error=str(exc))
        return
    except ConnectFailed as exc:
        raise HarnessError(f"cannot connect to {rt.address} at all: {exc}") from None
    if way == "untrusted_ca":
        conn.close()
        raise StepFailure(FailureKind.MISMATCH, "the TLS handshake succeeded although the "
                          "client trusts a CA that did not sign the server's certificate",
                          expected="a certificate verification error",
                          actual="handshake completed")
    with conn:
        rt.transcript.note(actor, "connected", how=way)
        served = _served(conn, seconds)
    if served is None:
        rt.transcript.note(actor, "not served")
        return
    raise StepFailure(FailureKind.MISMATCH, f"the server answered on a connection made as "
                      f"{way.replace('_', ' ')}: {served}",
                      expected="the handshake refused or the connection closed", actual=served)


def _served(conn: Connection, seconds: float) -> str | None:
    """What the server answered to an ECHO_REQ and an admin ``status``, or None (refused)."""
    deadline = time.monotonic() + seconds
    try:
        conn.send(Packet.build(PacketType.ECHO_REQ, b"served?"))
        conn.send_line("status")
        while (left := deadline - time.monotonic()) > 0:
            event = conn.recv(left)
            if isinstance(event, Packet):
                return event.name
            text = event.text
            if all(32 <= b < 127 or b == 9 for b in text):  # a TLS alert is not text
                return f"admin line {text[:60]!r}"
            return None
    except (WireError, ProtocolError):  # closed, reset, an alert, bytes that are not Gearman
        return None
    return None
