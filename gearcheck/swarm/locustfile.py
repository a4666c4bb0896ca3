"""Locust entry point for gearcheck load profiles.

    GEARCHECK_PROFILE=load/profiles/steady-foreground.yaml \
    GEARCHECK_SERVER=127.0.0.1:4730 locust -f load/locustfile.py      # web UI on :8089

(load/locustfile.py re-exports this module for the checkout.)

or pass ``--gearcheck-profile FILE --gearman-server HOST:PORT`` after ``-f``. Every
process of a distributed run (master and each ``--worker``) must be given the
same profile. Headless runs with reports: ``gearcheck load`` / ``make load``.
All the machinery lives in gearcheck.swarm; this file only picks the profile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from locust import events

from gearcheck.swarm.hooks import install
from gearcheck.swarm.profile import (
    ProfileError,
    load_profile,
    with_capacity,
    with_duration,
    with_speed,
)
from gearcheck.swarm.units import parse_duration
from gearcheck.wire import Address


def _choice() -> tuple[str, str | None]:
    # The user classes must exist when Locust imports this file, before it
    # parses its own arguments, so read ours from argv (or the environment) now.
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--gearcheck-profile")
    parser.add_argument("--gearman-server")
    known, _ = parser.parse_known_args(sys.argv[1:])
    profile = known.gearcheck_profile or os.environ.get("GEARCHECK_PROFILE")
    if not profile:
        sys.exit("gearcheck locustfile: choose a profile with GEARCHECK_PROFILE=FILE "
                 "or --gearcheck-profile FILE (see load/profiles/)")
    return profile, known.gearman_server or os.environ.get("GEARCHECK_SERVER")


@events.init_command_line_parser.add_listener
def _options(parser: argparse.ArgumentParser) -> None:
    # Shown (and filled in) on the web UI's start form; what is chosen there runs.
    parser.add_argument("--gearcheck-profile", help="gearcheck load profile (YAML)",
                        default=str(_profile_path))
    parser.add_argument("--gearman-server", help="HOST:PORT of the Gearman server",
                        default=str(_server))


_profile_path, _server = _choice()
try:
    PROFILE = load_profile(_profile_path)
except ProfileError as exc:
    sys.exit(f"gearcheck locustfile: invalid profile\n{exc}")
if "GEARCHECK_CAPACITY" in os.environ or PROFILE.raw.get("mode") == "capacity":
    try:  # gearcheck capacity: the search's settings
        PROFILE = with_capacity(PROFILE, json.loads(os.environ.get("GEARCHECK_CAPACITY", "{}")))
    except ValueError as exc:
        sys.exit(f"gearcheck locustfile: {exc}")
if os.environ.get("GEARCHECK_DURATION"):  # gearcheck load --duration: scale the stages
    PROFILE = with_duration(PROFILE, parse_duration(os.environ["GEARCHECK_DURATION"]))
if os.environ.get("GEARCHECK_SPEED"):  # gearcheck load --speed: K times the arrival rates
    PROFILE = with_speed(PROFILE, float(os.environ["GEARCHECK_SPEED"]))
_server = _server or PROFILE.server
if not _server:
    sys.exit(f"gearcheck locustfile: no server: set GEARCHECK_SERVER=HOST:PORT, "
             f"--gearman-server, or 'server:' in {_profile_path}")
install(PROFILE, Address.parse(_server), globals())
