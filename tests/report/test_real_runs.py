"""Real runs through the engine: a small suite against real servers, then every report,
the gate and the matrix on what came out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from gearcheck.cli import main as cli_main
from gearcheck.report.json_report import load_report
from gearcheck.results import RunReport, Verdict
from gearcheck.runs import SuiteSettings, run_suite
from gearcheck.targets import GearmandTarget

SMALL_SUITE = Path(__file__).parent / "scenarios" / "small.yaml"


@pytest.fixture(scope="module")
def gearmand_run(gearmand: GearmandTarget, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[RunReport, Path]:
    outdir = tmp_path_factory.mktemp("gearmand-run")
    outcome = run_suite(SuiteSettings(server=str(gearmand.address), implementation="gearmand",
                                      cases=[SMALL_SUITE], report_dir=outdir, quiet=True,
                                      use_baseline=False))
    assert outcome.report is not None, outcome.problem
    return outcome.report, outdir


def test_the_engine_run_produces_every_report(gearmand_run: tuple[RunReport, Path]) -> None:
    report, outdir = gearmand_run
    verdicts = {r.case_id: r.verdict for r in report.results}
    assert verdicts == {"GM-ECHO-901": Verdict.PASS, "GM-SUBMIT-901": Verdict.PASS,
                        "GM-SUBMIT-902": Verdict.PASS, "GM-ECHO-902": Verdict.FAIL}
    assert report.server.version and report.server.version.startswith("1.1.20")
    assert report.server.capabilities  # the probe's profile made it into the report
    assert load_report(outdir / "report.json").to_dict() == report.to_dict()
    suites = ET.parse(outdir / "junit.xml").getroot()
    assert (suites.get("tests"), suites.get("failures")) == ("4", "1")
    html = (outdir / "report.html").read_text()
    assert all(f'id="{cid}"' in html for cid in verdicts)
    assert "GM-ECHO-902" in (outdir / "summary.md").read_text()
    assert sorted(p.name for p in (outdir / "pcap").iterdir()) == ["GM-ECHO-902.pcap"]


def test_the_failing_case_pcap_holds_its_wire_bytes(gearmand_run: tuple[RunReport, Path]
                                                    ) -> None:
    """The capture is the connection as it was: the socket's real ports, the real times."""
    report, outdir = gearmand_run
    case = next(r for r in report.results if r.case_id == "GM-ECHO-902")
    server_port = int(report.server.address.rsplit(":", 1)[1])
    assert server_port != 4730  # the harness started gearmand on a free port
    wire = [e for e in case.transcript if e.direction in ("send", "recv") and e.raw_hex]
    opened = case.transcript[0]
    assert opened.summary["note"] == "connected" and opened.peer == report.server.address
    local = opened.local
    assert local is not None
    client_port = int(local.rsplit(":", 1)[1])
    frames = rdpcap(str(outdir / "pcap" / "GM-ECHO-902.pcap"))
    assert {(f[TCP].sport, f[TCP].dport) for f in frames} == {
        (client_port, server_port), (server_port, client_port)}
    assert str(frames[0][TCP].flags) == "S" and frames[0][TCP].dport == server_port
    sent = b"".join(bytes(f[TCP].payload) for f in frames if f[TCP].dport == server_port)
    received = b"".join(bytes(f[TCP].payload) for f in frames if f[TCP].sport == server_port)
    assert sent == b"".join(bytes.fromhex(e.raw_hex) for e in wire if e.direction == "send")
    assert received == b"".join(bytes.fromhex(e.raw_hex) for e in wire
                                if e.direction == "recv")
    assert b"\0RES\0\0\0\x11" in received  # the real ECHO_RES gearmand sent
    # each segment carries the wall-clock time its bytes were written or read
    data_times = [float(f.time) for f in frames if bytes(f[TCP].payload)]
    assert data_times == [pytest.approx(e.wall, abs=1e-6) for e in wire]
    started = datetime.fromisoformat(report.started_at.replace("Z", "+00:00")).timestamp()
    assert started - 1 < data_times[0] < started + report.duration_s + 1


def test_dissect_shows_the_real_server_port(gearmand_run: tuple[RunReport, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    report, outdir = gearmand_run
    assert cli_main(["dissect", str(outdir / "pcap" / "GM-ECHO-902.pcap")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert f"> {report.server.address}  REQ ECHO_REQ" in lines[0]
    assert f"< {report.server.address}  RES ECHO_RES" in lines[1]


def test_the_gate_on_a_real_report(gearmand_run: tuple[RunReport, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, outdir = gearmand_run
    report = str(outdir / "report.json")
    assert cli_main(["gate", report]) == 1
    baseline = tmp_path / "b.yaml"
    baseline.write_text("known_failures:\n  - {id: GM-ECHO-902, reason: deliberate}\n")
    assert cli_main(["gate", report, "--baseline", str(baseline)]) == 0
    assert "exit 0: 4 gated cases" in capsys.readouterr().out


def test_matrix_command_against_real_servers(tmp_path: Path) -> None:
    registry = tmp_path / "servers.yaml"
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / "perl.yaml").write_text(
        "known_failures:\n  - {id: GM-ECHO-902, reason: deliberate failure of the fixture}\n")
    registry.write_text("""\
servers:
  - name: refserver
    target: gearcheck.targets.refserver.RefServerTarget
  - name: perl
    title: Perl Gearman::Server
    target: gearcheck.targets.perl_server.PerlServerTarget
    baseline: baselines/perl.yaml
""")
    out = tmp_path / "matrix"
    code = cli_main(["matrix", "--registry", str(registry), str(SMALL_SUITE),
                     "--out", str(out), "--processes", "0"])
    assert code == 0
    data = json.loads((out / "matrix.json").read_text())
    rows = {c["case_id"]: c["cells"] for c in data["cases"]}
    assert rows["GM-SUBMIT-902"]["perl"]["verdict"] == "UNSUPPORTED"  # no LOW_BG in Perl
    assert rows["GM-SUBMIT-902"]["refserver"]["verdict"] == "PASS"
    assert rows["GM-ECHO-902"]["perl"]["verdict"] == "XFAIL"  # its baseline applied
    assert rows["GM-ECHO-902"]["refserver"]["verdict"] == "FAIL"
    assert rows["GM-ECHO-901"]["perl"]["href"] == "perl/report.html#GM-ECHO-901"
    perl = next(s for s in data["servers"] if s["name"] == "perl")
    assert perl["capabilities"]["packet:SUBMIT_JOB_LOW_BG"]["supported"] is False
    html = (out / "index.html").read_text()
    assert '<a href="perl/report.html#GM-SUBMIT-902">UNSUPPORTED</a>' in html
    assert 'id="GM-SUBMIT-902"' in (out / "perl" / "report.html").read_text()
