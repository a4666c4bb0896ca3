"""gearcheck.protocol: the Gearman wire format, sans I/O.

The only code in gearcheck that knows the wire. Bytes go in (``Decoder.feed``),
events come out (``Packet`` and ``AdminLine``); ``encode`` turns packets into
bytes. No sockets, no event loop: the reference server, the scenario engine,
the Locust users and the scapy layer all sit on top of this.

Modules, each with one job:
  _table    the packet table (types, argument names, senders, magic)
  _packet   the event classes
  _encode   packets to bytes
  _decoder  bytes to events, incrementally, with strict limits
  _admin    admin reply framing and parsers
  _errors   one error class per kind of malformed input
  scapy_layer  the same table as a scapy Packet bound to TCP 4730
  capture      pcap files back into named packets (TCP reassembly + the Decoder)
"""

from ._admin import (
    VERBOSE_LEVELS,
    AdminError,
    AdminReplyCollector,
    FunctionStatus,
    JobInfo,
    PriorityStatus,
    WorkerInfo,
    command_words,
    parse_getpid,
    parse_maxqueue,
    parse_ok,
    parse_priority_status,
    parse_show_jobs,
    parse_show_unique_jobs,
    parse_status,
    parse_verbose,
    parse_version,
    parse_workers,
    reply_is_list,
)
from ._decoder import DEFAULT_MAX_LINE, DEFAULT_MAX_PAYLOAD, Decoder
from ._encode import encode, encode_fields, encode_header, encode_raw
from ._errors import (
    AdminLineTooLongError,
    AdminReplyError,
    BadMagicError,
    MissingArgumentsError,
    PacketTooLargeError,
    ProtocolError,
    TruncatedPacketError,
    UnexpectedMagicError,
    UnknownPacketTypeError,
)
from ._packet import AdminLine, Event, Packet, printable
from ._table import (
    BACKGROUND_SUBMIT_TYPES,
    GRAB_TYPES,
    HEADER_SIZE,
    MAX_PACKET_TYPE,
    SPECS,
    SUBMIT_MODES,
    SUBMIT_TYPES,
    TERMINAL_WORK_TYPES,
    WORK_RESULT_TYPES,
    Magic,
    PacketSpec,
    PacketType,
    Priority,
    Role,
    spec_for,
    submit_type,
)

DEFAULT_PORT = 4730

__all__ = [
    "BACKGROUND_SUBMIT_TYPES", "DEFAULT_MAX_LINE", "DEFAULT_MAX_PAYLOAD", "DEFAULT_PORT",
    "GRAB_TYPES", "HEADER_SIZE", "MAX_PACKET_TYPE", "SPECS", "SUBMIT_MODES", "SUBMIT_TYPES",
    "TERMINAL_WORK_TYPES", "VERBOSE_LEVELS", "WORK_RESULT_TYPES", "AdminError", "AdminLine",
    "AdminLineTooLongError", "AdminReplyCollector", "AdminReplyError", "BadMagicError",
    "Decoder", "Event", "FunctionStatus", "JobInfo", "Magic", "MissingArgumentsError",
    "Packet", "PacketSpec", "PacketTooLargeError", "PacketType", "Priority", "PriorityStatus",
    "ProtocolError", "Role", "TruncatedPacketError", "UnexpectedMagicError",
    "UnknownPacketTypeError", "WorkerInfo", "command_words", "encode", "encode_fields",
    "encode_header",
    "encode_raw", "parse_getpid", "parse_maxqueue", "parse_ok", "parse_priority_status",
    "parse_show_jobs", "parse_show_unique_jobs", "parse_status", "parse_verbose",
    "parse_version", "parse_workers", "printable", "reply_is_list", "spec_for", "submit_type",
]
