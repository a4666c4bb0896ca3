"""What does recording cost? (not a test: a benchmark)

The same foreground load (one Locust process, closed model: 8 client users
with 4 jobs in flight each, 4 worker users) runs against a fresh gearmand
directly and then through ``gearcheck record`` (its own process, as an
operator runs it), alternating, ``--repeat`` times each. Reported: jobs/s both
ways and their ratio, and the recorder process's CPU (user + system from
/proc) per traced record and per job. On a shared 2-core box the load
generator, gearmand and the recorder compete for the same cores, so the ratio
is an upper bound on the slowdown an application on other cores would see.

    .venv/bin/python bench/record_overhead.py [--duration 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget

PROFILE = """\
name: record-overhead
duration: {d}s
users: 8
drain_timeout: 5s
clients:
  - name: fg
    functions: [record_bench]
    payload_bytes: {{dist: uniform, min: 64, max: 1024}}
    in_flight: 4
workers:
  - name: w
    count: 4
    functions: [record_bench]
    result_bytes: 64
thresholds: {{max_lost: 0}}
"""


def _recorder(upstream: str, out: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "gearcheck.cli", "record", "--listen",
                             "127.0.0.1:0", "--upstream", upstream, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"recording (\S+) ->", proc.stderr.readline())
        if found:
            return proc, found.group(1)
    proc.kill()
    raise SystemExit("gearcheck record did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as folder_text:
        folder = Path(folder_text)
        profile = folder / "profile.yaml"
        profile.write_text(PROFILE.format(d=args.duration))
        with GearmandTarget(log_dir=folder / "gearmand") as gearmand:
            for i in range(args.repeat):
                direct = run_load(profile, server=str(gearmand.address), out_root=folder,
                                  run_name=f"direct-{i}", quiet=True)
                proc, address = _recorder(str(gearmand.address), folder / f"rec-{i}")
                cpu0 = psutil.Process(proc.pid).cpu_times()
                recorded = run_load(profile, server=address, out_root=folder,
                                    run_name=f"recorded-{i}", quiet=True)
                cpu1 = psutil.Process(proc.pid).cpu_times()
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=60)
                lines = (folder / f"rec-{i}" / "trace.jsonl").read_text().count("\n")
                records = lines - 1  # the header
                assert direct.summary and recorded.summary
                cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
                jobs = recorded.summary["counts"].get("executed", 0)
                run = {"direct_jobs_per_s": direct.summary["throughput"]["jobs_per_s"],
                       "recorded_jobs_per_s": recorded.summary["throughput"]["jobs_per_s"],
                       "recorder_cpu_s": round(cpu, 2), "records": records, "jobs": jobs,
                       "cpu_us_per_record": round(cpu / records * 1e6, 1),
                       "cpu_us_per_job": round(cpu / jobs * 1e6, 1)}
                runs.append(run)
                print(json.dumps(run), flush=True)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    median["recorded/direct"] = round(median["recorded_jobs_per_s"]
                                      / median["direct_jobs_per_s"], 3)
    print("median:", json.dumps(median))
    return 0


if __name__ == "__main__":
    sys.exit(main())
