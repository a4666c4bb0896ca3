"""Reports of conformance runs. ``model`` is the shared data; one module per output format."""

from .model import (
    SCHEMA_VERSION,
    CaseResult,
    FailureKind,
    RunReport,
    ServerInfo,
    TranscriptEntry,
    Verdict,
)

__all__ = ["SCHEMA_VERSION", "CaseResult", "FailureKind", "RunReport", "ServerInfo",
           "TranscriptEntry", "Verdict"]
