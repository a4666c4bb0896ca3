"""What every case of one conformance run shares, resolved, and how it reaches xdist workers.

Strategy: ``RunSettings`` is decided once, by the process that owns the run
(the xdist controller, or the only process): the server's address and name,
the run id, timing scaled by the probed round trip, the capability profile,
the parsed baseline and the report directory. It round-trips through JSON,
which is how the plugin hands it to each xdist worker, so no worker probes
the server or parses the baseline again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.probe import CapabilityProfile
from ..engine.timing import Timing
from ..report.baseline import Baseline
from ..wire import Address


def new_run_id() -> str:
    return secrets.token_hex(3)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def slug(text: str) -> str:
    """``text`` as a folder name: anything but letters, digits, ``._-`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "server"


def default_report_dir(server_name: str, run_id: str, root: Path | str = "reports") -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(root) / slug(server_name) / f"{stamp}-{run_id}"


@dataclass
class RunSettings:
    address: Address
    server_name: str
    run_id: str
    report_dir: Path
    timing: Timing
    profile: CapabilityProfile | None = None
    baseline: Baseline | None = None
    started_at: str = ""
    managed_target: str | None = None  # registry name whose extra servers the harness starts
    registry: str | None = None  # the servers.yaml that name comes from (None: the shipped one)
    second_servers: list[str] = field(default_factory=list)  # user-given extra servers
    write_reports: bool = True
    clean_up: bool = True  # clean up after each case (engine.cleanup)

    def to_json(self) -> str:
        return json.dumps({
            "address": str(self.address), "server_name": self.server_name,
            "run_id": self.run_id, "report_dir": str(self.report_dir),
            "timing": {"rtt_s": self.timing.rtt_s,
                       "default_timeout_s": self.timing.default_timeout_s,
                       "rtt_multiple": self.timing.rtt_multiple,
                       "grace_factor": self.timing.grace_factor},
            "profile": self.profile.to_dict() if self.profile else None,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "started_at": self.started_at, "managed_target": self.managed_target,
            "registry": self.registry, "second_servers": self.second_servers,
            "write_reports": self.write_reports, "clean_up": self.clean_up})

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        d = json.loads(text)
        return cls(address=Address.parse(d["address"]), server_name=d["server_name"],
                   run_id=d["run_id"], report_dir=Path(d["report_dir"]),
                   timing=Timing(**d["timing"]),
                   profile=CapabilityProfile.from_dict(d["profile"]) if d["profile"] else None,
                   baseline=Baseline.from_dict(d["baseline"]) if d["baseline"] else None,
                   started_at=d["started_at"], managed_target=d["managed_target"],
                   registry=d["registry"],
                   second_servers=list(d["second_servers"]),
                   write_reports=bool(d["write_reports"]),
                   clean_up=bool(d.get("clean_up", True)))
