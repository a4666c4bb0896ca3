"""Errors the codec raises, one class per kind of malformed input.

Strategy: every error is a ``ProtocolError``. Errors that leave the byte
stream in sync (the decoder knew the packet's length and consumed it) are
``recoverable``; the decoder can go on with the next packet. The others mean
the stream can no longer be framed and the decoder refuses further input,
as h11 does after a protocol error.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Input that is not valid Gearman framing."""

    recoverable = False

    def __init__(self, message: str, *, offset: int | None = None, raw: bytes = b"") -> None:
        super().__init__(message)
        self.offset = offset  # byte offset in the stream where the bad input starts
        self.raw = raw  # the offending bytes (at most a header's worth for fatal errors)


class BadMagicError(ProtocolError):
    """A binary header whose magic is neither \\0REQ nor \\0RES."""


class UnknownPacketTypeError(ProtocolError):
    """A binary header whose type number is 0 or above the largest known type."""


class PacketTooLargeError(ProtocolError):
    """A header that declares a payload larger than the configured limit."""


class AdminLineTooLongError(ProtocolError):
    """An admin text line longer than the configured limit, with no newline in sight."""


class TruncatedPacketError(ProtocolError):
    """The stream ended (EOF) in the middle of a packet or an admin line."""


class MissingArgumentsError(ProtocolError):
    """A packet whose payload has fewer NUL separators than its type needs.

    The packet's length was known, so the stream is still in sync.
    """

    recoverable = True

    def __init__(self, message: str, *, packet_type: int, payload: bytes,
                 magic: bytes, offset: int | None = None) -> None:
        super().__init__(message, offset=offset, raw=payload)
        self.packet_type = packet_type
        self.payload = payload
        self.magic = magic


class UnexpectedMagicError(ProtocolError):
    """A well-formed packet with the other side's magic (\\0RES sent to a server).

    Raised only by decoders told which magic to expect; the stream is in sync,
    and the offending packet is attached.
    """

    recoverable = True

    def __init__(self, message: str, *, packet: object, offset: int | None = None) -> None:
        super().__init__(message, offset=offset)
        self.packet = packet


class AdminReplyError(ValueError):
    """An admin reply that does not have the shape its command promises."""
