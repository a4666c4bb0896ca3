"""Locust's web UI: the start form carries the profile and server, and what is chosen runs."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from gearcheck.swarm.runner import LOCUSTFILE, locust_binary
from gearcheck.targets import GearmandTarget, free_port

PROFILE = """\
name: {name}
duration: 30s
users: 2
clients:
  - name: c
    functions: [{fn}]
    in_flight: 2
workers:
  - name: w
    count: 2
    functions: [{fn}]
"""


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read().decode()


def test_the_profile_chosen_on_the_form_is_the_one_that_runs(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[..., Path],
        fn: str) -> None:
    first = write_profile(PROFILE.format(name="first", fn=f"{fn}a"), "first.yaml")
    second = write_profile(PROFILE.format(name="second", fn=f"{fn}b"), "second.yaml")
    port = free_port()
    env = {**os.environ, "GEARCHECK_PROFILE": str(first),
           "GEARCHECK_SERVER": str(gearmand.address), "GEARCHECK_REPORT_DIR": str(tmp_path)}
    proc = subprocess.Popen([locust_binary(), "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1",
                             "--web-port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = _get(base + "/")
                break
            except OSError:
                assert time.monotonic() < deadline, "the web UI never answered"
                time.sleep(0.3)
        # the form is filled from what the locustfile was given, and names the real target
        assert str(first) in page and f"gearman://{gearmand.address}" in page
        # user count, spawn rate and run time come from the profile: the form hides them
        assert '"hide_common_options": true' in page
        form = urllib.parse.urlencode({"gearcheck_profile": str(second),
                                       "gearman_server": str(gearmand.address)}).encode()
        reply = json.loads(urllib.request.urlopen(base + "/swarm", data=form, timeout=10).read())
        assert reply["success"], reply
        names: set[str] = set()
        deadline = time.monotonic() + 20
        while not any(f"{fn}b" in n for n in names) and time.monotonic() < deadline:
            time.sleep(0.5)
            names = {s["name"] for s in json.loads(_get(base + "/stats/requests"))["stats"]}
        assert any(f"{fn}b" in n for n in names), names
        assert not any(f"{fn}a" in n for n in names), names
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(15)
