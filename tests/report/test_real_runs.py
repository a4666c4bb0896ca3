"""Real runs through the engine: a small suite against real servers, then every report,
the gate and the matrix on what came out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
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
    report, outdir = gearmand_run
    case = next(r for r in report.results if r.case_id == "GM-ECHO-902")
    frames = rdpcap(str(outdir / "pcap" / "GM-ECHO-902.pcap"))
    sent = b"".join(bytes(f[TCP].payload) for f in frames if f[TCP].dport == 4730)
    received = b"".join(bytes(f[TCP].payload) for f in frames if f[TCP].sport == 4730)
    assert sent == b"".join(bytes.fromhex(e.raw_hex) for e in case.transcript
                            if e.direction == "send")
    assert received == b"".join(bytes.fromhex(e.raw_hex) for e in case.transcript
                                if e.direction == "recv")
    assert b"\0RES\0\0\0\x11" in received  # the real ECHO_RES gearmand sent


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
