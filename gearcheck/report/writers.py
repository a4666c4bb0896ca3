"""Every output of a run in one call: ``write_all(report, outdir)``.

Strategy: report.json first (it validates against the schema, so a report
that breaks the contract stops here, before any derived file exists), then
the pcaps of failing cases (so the HTML can link to them), then HTML, JUnit
and the Markdown summary. Returns the paths by kind; ``pcaps`` maps case ids
to capture files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..results import RunReport
from .html_report import write_html
from .json_report import write_json
from .junit import write_junit
from .pcap import write_failure_pcaps
from .summary_md import write_summary

PCAP_DIR = "pcap"


@dataclass
class ReportPaths:
    json: Path
    junit: Path
    html: Path
    summary: Path
    pcaps: dict[str, Path] = field(default_factory=dict)

    def all(self) -> list[Path]:
        return [self.json, self.junit, self.html, self.summary, *self.pcaps.values()]


def write_all(report: RunReport, outdir: Path | str) -> ReportPaths:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    json_path = write_json(report, outdir / "report.json")
    pcaps = write_failure_pcaps(report, outdir / PCAP_DIR)
    relative = {cid: p.relative_to(outdir).as_posix() for cid, p in pcaps.items()}
    return ReportPaths(
        json=json_path,
        junit=write_junit(report, outdir / "junit.xml"),
        html=write_html(report, outdir / "report.html", relative),
        summary=write_summary(report, outdir / "summary.md"),
        pcaps=pcaps,
    )
