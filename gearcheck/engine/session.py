"""One conformance run: its settings, and its results turned into reports on disk.

Strategy: ``RunSettings`` is everything every case of a run shares (server
address and name, run id, timing, capability profile, report directory,
baseline) and round-trips through JSON, which is how the pytest plugin hands
it from the xdist controller to its workers. ``finish_run`` builds the shared
``RunReport`` from the case results (applying the baseline through
gearcheck.report.baseline when one is given), writes report.json and, when the
report writers are installed, every other format next to it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results import CaseResult, RunReport, ServerInfo
from ..wire import Address
from .probe import Profile
from .timing import Timing


def new_run_id() -> str:
    return secrets.token_hex(3)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def slug(text: str) -> str:
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
    profile: Profile | None = None
    probe_error: str | None = None
    baseline: str | None = None
    started_at: str = ""
    managed_target: str | None = None  # registry name whose extra servers the harness starts
    second_servers: list[str] = field(default_factory=list)  # user-given extra servers

    def to_json(self) -> str:
        return json.dumps({
            "address": str(self.address), "server_name": self.server_name,
            "run_id": self.run_id, "report_dir": str(self.report_dir),
            "timing": {"rtt_s": self.timing.rtt_s,
                       "default_timeout_s": self.timing.default_timeout_s,
                       "rtt_multiple": self.timing.rtt_multiple,
                       "grace_factor": self.timing.grace_factor},
            "profile": self.profile.to_dict() if self.profile else None,
            "probe_error": self.probe_error, "baseline": self.baseline,
            "started_at": self.started_at, "managed_target": self.managed_target,
            "second_servers": self.second_servers})

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        d = json.loads(text)
        return cls(address=Address.parse(d["address"]), server_name=d["server_name"],
                   run_id=d["run_id"], report_dir=Path(d["report_dir"]),
                   timing=Timing(**d["timing"]),
                   profile=Profile.from_dict(d["profile"]) if d["profile"] else None,
                   probe_error=d["probe_error"], baseline=d["baseline"],
                   started_at=d["started_at"], managed_target=d.get("managed_target"),
                   second_servers=list(d.get("second_servers") or []))


def tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("gearcheck")
    except Exception:
        return "unknown"


def build_report(settings: RunSettings, results: list[CaseResult], duration_s: float,
                 ) -> RunReport:
    profile = settings.profile
    capabilities: dict[str, Any] = dict(profile.capabilities) if profile else {}
    if settings.probe_error:
        capabilities = {"probe_error": {"supported": False, "evidence": settings.probe_error}}
    server = ServerInfo(address=str(settings.address), name=settings.server_name,
                        version=profile.version if profile else None,
                        capabilities=capabilities,
                        echo_rtt_us=round(profile.rtt_s * 1e6, 1) if profile else None)
    ordered = sorted(results, key=lambda r: (r.area, r.case_id))
    return RunReport(server=server, results=ordered, started_at=settings.started_at,
                     finished_at=utc_now(), duration_s=round(duration_s, 3),
                     tool_version=tool_version(), baseline=settings.baseline)


def apply_baseline_file(report: RunReport, baseline_path: str | None) -> RunReport:
    """The report with XFAIL/XPASS from the baseline (unchanged without one)."""
    if not baseline_path:
        return report
    from ..report.baseline import apply_baseline, load_baseline

    return apply_baseline(report, load_baseline(baseline_path)).report


def write_report(report: RunReport, outdir: Path) -> list[str]:
    """report.json, plus every other format when gearcheck.report.writers exists.

    Returns notes for the user (where things went, or why a format is missing).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    notes = []
    try:
        from ..report import writers
    except ImportError as exc:
        (outdir / "report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
        notes.append(f"wrote {outdir / 'report.json'} only: the report writers "
                     f"(gearcheck.report.writers) are not available ({exc})")
        return notes
    paths = writers.write_all(report, outdir)
    notes.append(f"reports in {outdir}: " + ", ".join(p.name for p in paths.all()[:4])
                 + (f" and {len(paths.pcaps)} pcap(s)" if paths.pcaps else ""))
    return notes
