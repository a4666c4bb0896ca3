"""The gearcheck command line: described, helpful, one name per idea, one-line errors, exit 2."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from gearcheck.cli import build_parser, main
from gearcheck.commands.conformance import DEFAULT_JOBS, registered_jobs

# Names retired for one name per idea (docs/cli.md): what each became.
RETIRED = {"--target": "--server (or --as)", "--workers": "--processes or --worker-libraries",
           "--parallel": "--jobs", "--run-name": "--out", "--report-dir": "--out",
           "--clients": "--client-libraries", "--servers": "--registry"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _help_lines(parser: argparse.ArgumentParser) -> dict[str, str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help or "" for c in action._choices_actions}


def test_every_command_has_a_one_line_summary_and_a_description() -> None:
    summaries = _help_lines(build_parser())
    for name, sub in _subparsers().items():
        assert summaries[name].strip() and "\n" not in summaries[name], name
        description = sub.description or ""
        assert len(description.split()) >= 8, f"{name}: describe the command for its --help"
        assert "Strategy" not in description and "``" not in description, \
            f"{name}: its --help shows developer text"


def test_every_option_has_help_and_no_retired_name() -> None:
    for name, sub in _subparsers().items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"gearcheck {name} {action.option_strings or action.dest}: no help"
            for option in action.option_strings:
                assert option not in RETIRED or (name, option) == ("interop", "--servers"), \
                    f"gearcheck {name} {option}: one name per idea, use {RETIRED[option]} " \
                    "(docs/cli.md)"


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "gearcheck", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("gearcheck ")


@pytest.mark.parametrize("argv,option,problem", [
    (["load", "--profile", "steady-foreground", "--duration", "banana"], "--duration",
     "not a duration"),
    (["load", "--profile", "steady-foreground", "--duration", "0s"], "--duration",
     "not a positive duration"),
    (["conformance", "--server", "no-such-server"], "--server", "unknown server"),
    (["conformance", "--server", "127.0.0.1:http"], "--server", ""),
    (["fuzz", "--server", "refserver", "--seconds", "-1"], "--seconds", "not a positive"),
    (["conformance", "/no/such/folder"], "PATH", "no such file or folder"),
    (["gate", "/no/such/report.json"], "report", "no such file"),
    (["dissect", __file__, "--port", "0"], "--port", "at least 1"),
])
def test_a_bad_value_is_one_line_naming_the_option_and_exit_2(
        argv: list[str], option: str, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"gearcheck {argv[0]}: ") and option in err and problem in err, err


def test_an_unknown_profile_names_the_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--profile", "no-such-profile", "--server", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "no load profile 'no-such-profile'" in err and "steady-foreground" in err


def test_conformance_runs_a_crashing_registered_server_one_case_at_a_time() -> None:
    """The matrix and `gearcheck conformance --server NAME` agree on how many cases run at
    once: a server registered with `jobs: 1` (it dies on some input, taking the cases beside
    it down) gets one; others, and HOST:PORT servers, the default."""
    assert registered_jobs("abraxas") == registered_jobs("abraxas-2.1.10") == 1
    assert registered_jobs("g2") == 1
    assert registered_jobs("refserver") == registered_jobs(None) == DEFAULT_JOBS
    assert registered_jobs("127.0.0.1:4730") == DEFAULT_JOBS
