"""Response bytes, built through the codec's header encoder.

Strategy: the server sends millions of small packets, so it skips the
``Packet`` object and joins the arguments itself, then asks the codec for the
12-byte header (``encode_header``): the wire format still comes from
gearcheck.protocol alone. Packet types are passed as plain ints (an enum
member costs an attribute lookup and an ``__index__`` call per use). Admin
replies are plain lines; their endings follow gearmand (``\\r\\n`` after bare
OK and ERR, ``\\n`` after rows and ``OK <value>``).
"""

from __future__ import annotations

from urllib.parse import quote_plus

from ..protocol import Magic, PacketType, encode_header

_RES = Magic.RES.value


def response(ptype: int, *args: bytes) -> bytes:
    payload = b"\0".join(args)
    return encode_header(_RES, ptype, len(payload)) + payload


def response_payload(ptype: int, payload: bytes) -> bytes:
    return encode_header(_RES, ptype, len(payload)) + payload


def error(code: str, text: str) -> bytes:
    return response(PacketType.ERROR, code.encode("ascii"), text.encode("utf-8"))


def job_created(handle: bytes) -> bytes:
    return encode_header(_RES, _JOB_CREATED, len(handle)) + handle


def job_assign_uniq(handle: bytes, function: bytes, unique: bytes, data: bytes) -> bytes:
    payload = b"\0".join((handle, function, unique, data))
    return encode_header(_RES, _JOB_ASSIGN_UNIQ, len(payload)) + payload


_JOB_CREATED = int(PacketType.JOB_CREATED)
_JOB_ASSIGN_UNIQ = int(PacketType.JOB_ASSIGN_UNIQ)
NOOP = response(PacketType.NOOP)
NO_JOB = response(PacketType.NO_JOB)

ADMIN_OK = b"OK\r\n"


def admin_error(code: str, text: str = "") -> bytes:
    """``ERR CODE url+encoded+text`` as gearmand writes it (text optional)."""
    if not text:
        return f"ERR {code}\r\n".encode()
    return f"ERR {code} {quote_plus(text)}\r\n".encode()


def admin_value(value: str) -> bytes:
    return f"OK {value}\n".encode()
