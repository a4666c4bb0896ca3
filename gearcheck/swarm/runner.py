"""``gearcheck load``: one headless Locust run of a profile, with its reports.

Strategy: Locust runs as a subprocess of the ``locust`` command (its own
process model, its own HTML/CSV writers, no monkey-patching in the caller):
one process for a local run, or a ``--master`` plus N ``--worker`` processes
for a distributed one. The profile and server reach every process through
environment variables read by the locustfile; the master writes
summary.json into the run directory, and this module turns it into the exit
code: 0 every threshold held, 1 one failed, 2 the run could not happen
(invalid profile, unreachable server, Locust failed, no summary).
While Locust runs, its master writes progress.json every second (jobs/s, p99,
errors, phase); on a terminal a rich bar shows it, without one a plain line
is printed at least every 5 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..targets import ProcessTarget, Target, TargetError, free_port, open_target
from ..wire import Address
from .cpu import CpuSampler, describe, listener_pid
from .profile import (
    LoadProfile,
    ProfileError,
    load_profile,
    with_capacity,
    with_duration,
    with_speed,
)

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2
PLAIN_EVERY_S = 5.0  # without a terminal: a progress line at least this often
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class LoadResult:
    exit_code: int
    run_dir: Path
    summary: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)


def locust_binary() -> str:
    candidate = Path(sys.executable).with_name("locust")
    return str(candidate) if candidate.exists() else "locust"


def run_load(profile_path: str | Path, *, server: str | None, out_root: Path,
             run_name: str | None = None, workers: int = 0, quiet: bool = False,
             locustfile: Path = LOCUSTFILE, extra_env: dict[str, str] | None = None,
             duration: float | None = None, speed: float | None = None,
             cpus: set[int] | None = None,
             capacity: dict[str, Any] | None = None) -> LoadResult:
    """One Locust run of a profile. ``cpus``: the cores every Locust process may use
    (``os.sched_setaffinity``; the benchmarks keep the server off them). ``capacity``:
    run a capacity search (``profile.with_capacity`` settings: slo, start_rate, ...)."""
    console = Console(stderr=True, quiet=quiet)
    run_dir = out_root / (run_name or time.strftime("%Y%m%d-%H%M%S-") + Path(profile_path).stem)
    try:
        profile = load_profile(profile_path)
    except ProfileError as exc:
        console.print(f"[red]gearcheck load: invalid profile[/red]\n{exc}")
        return LoadResult(EXIT_HARNESS, run_dir, problems=exc.problems)
    extra_env = dict(extra_env or {})
    if capacity is not None or profile.raw.get("mode") == "capacity":
        try:
            profile = with_capacity(profile, capacity or {})
        except ValueError as exc:
            console.print(f"[red]gearcheck: {escape(str(exc))}[/red]")
            return LoadResult(EXIT_HARNESS, run_dir, problems=[str(exc)])
        extra_env["GEARCHECK_CAPACITY"] = json.dumps(capacity or {})
    if duration is not None:
        profile = with_duration(profile, duration)
        extra_env["GEARCHECK_DURATION"] = str(duration)
    if speed is not None:
        if not any(c.open_model for c in profile.clients):
            message = (f"{profile.path}: --speed multiplies open-model arrival rates, and no "
                       f"client mix has arrival: {{model: open}}")
            console.print(f"[red]gearcheck load: {escape(message)}[/red]")
            return LoadResult(EXIT_HARNESS, run_dir, problems=[message])
        profile = with_speed(profile, speed)
        extra_env["GEARCHECK_SPEED"] = repr(speed)
    address_text = server or profile.server
    try:
        with _target(address_text, run_dir) as target:
            return _run(profile, target.address, run_dir, workers, console, locustfile,
                        extra_env or {}, _server_pid(target), cpus)
    except (TargetError, ValueError) as exc:
        console.print(f"[red]gearcheck load: cannot run: {exc}[/red]")
        return LoadResult(EXIT_HARNESS, run_dir, problems=[str(exc)])


@contextmanager
def _target(address_text: str | None, run_dir: Path) -> Iterator[Target]:
    with open_target(address_text, log_dir=run_dir / "server") as target:
        yield target


def _server_pid(target: Target) -> int | None:
    """The server's process when it runs on this machine (its CPU goes in the summary)."""
    if isinstance(target, ProcessTarget):
        return target.pid
    if target.address.host in ("127.0.0.1", "localhost", "::1"):
        return listener_pid(target.address.port)
    return None


def _run(profile: LoadProfile, address: Address, run_dir: Path, workers: int, console: Console,
         locustfile: Path, extra_env: dict[str, str], server_pid: int | None = None,
         cpus: set[int] | None = None) -> LoadResult:
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GEARCHECK_PROFILE": str(Path(profile.path).resolve()),
           "GEARCHECK_SERVER": str(address), "GEARCHECK_REPORT_DIR": str(run_dir.resolve()),
           "PYTHONUNBUFFERED": "1", **extra_env}
    expected = _load_seconds(profile) + profile.drain_timeout + 15
    common = ["-f", str(locustfile)]
    master = [locust_binary(), *common, "--headless", "--only-summary",
              "--html", str(run_dir / "locust.html"), "--csv", str(run_dir / "locust"),
              "--csv-full-history", "--run-time", f"{int(expected + 30)}s"]
    procs: list[subprocess.Popen[bytes]] = []
    log_path = run_dir / "locust.log"
    with open(log_path, "wb") as log:
        try:
            if workers > 0:
                port = free_port()
                master += ["--master", "--master-bind-host", "127.0.0.1",
                           "--master-bind-port", str(port), "--expect-workers", str(workers),
                           "--expect-workers-max-wait", "30"]
                procs.append(_spawn(master, env, log, cpus))
                for _ in range(workers):
                    procs.append(_spawn([locust_binary(), *common, "--worker",
                                         "--master-host", "127.0.0.1",
                                         "--master-port", str(port)], env, log, cpus))
            else:
                procs.append(_spawn(master, env, log, cpus))
            cpu = CpuSampler([p.pid for p in procs], server_pid)
            code = _wait(procs, expected + 60, profile, console, cpu, run_dir)
        finally:
            for proc in procs:
                _stop(proc)
    summary_path = run_dir / "summary.json"
    if code not in (0, 1) or not summary_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        console.print(f"[red]gearcheck load: Locust did not produce a summary "
                      f"(exit code {code}); see {log_path}[/red]\n{tail}")
        return LoadResult(EXIT_HARNESS, run_dir, problems=[f"locust exit code {code}"])
    summary = json.loads(summary_path.read_text())
    summary["cpu"] = _cpu(summary, profile, cpu)
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    _print_summary(summary, console, run_dir)
    return LoadResult(EXIT_OK if summary["passed"] else EXIT_FAILED, run_dir, summary)


def _spawn(argv: list[str], env: dict[str, str], log: Any,
           cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    def bind() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=bind if cpus else None)


def _load_seconds(profile: LoadProfile) -> float:
    """How long the load lasts: the stages, or a capacity search's longest run."""
    if profile.capacity is not None:
        return profile.capacity.max_steps * (profile.capacity.step_s + 4) + 10
    return profile.duration


def _cpu(summary: dict[str, Any], profile: LoadProfile, cpu: CpuSampler) -> dict[str, Any]:
    """CPU of both sides over the loaded window, less a second at each end for the ramp."""
    start, end = summary["window"]["start_epoch_s"], summary["window"]["end_epoch_s"]
    if start is None:
        return {"note": "no load window"}
    if end - start >= 4:
        start, end = start + 1, end - 1
    kind = "executed" if profile.worker_users else "created"
    jobs = sum(row.get(kind, 0) for row in summary["over_time"]
               if start <= summary["epoch_s"] + row["t"] < end)
    return describe(cpu.usage(start, end), jobs)


def _wait(procs: list[subprocess.Popen[bytes]], deadline_s: float, profile: LoadProfile,
          console: Console, cpu: CpuSampler, run_dir: Path) -> int:
    """Wait for the master, showing the run's progress from its progress.json: a rich bar
    on a terminal, else a plain line every ``PLAIN_EVERY_S`` (CI logs, pipes)."""
    master = procs[0]
    start = time.monotonic()
    total = _load_seconds(profile)
    live = console.is_terminal and not console.quiet
    columns = (TextColumn(f"[bold]{escape(profile.name)}[/bold]"), BarColumn(),
               TextColumn("{task.completed:.0f}/{task.total:.0f}s"), TimeElapsedColumn(),
               TextColumn("{task.fields[figures]}"))
    last_line = start
    with Progress(*columns, console=console, transient=True, disable=not live) as progress:
        task = progress.add_task("load", total=total, figures="starting Locust")
        while master.poll() is None:
            elapsed = time.monotonic() - start
            if elapsed > deadline_s:
                console.print(f"[red]Locust still running after {deadline_s:.0f}s: "
                              f"stopping it[/red]")
                return -1
            figures = _figures(run_dir)
            progress.update(task, completed=min(elapsed, total), figures=figures)
            if not live and not console.quiet and time.monotonic() - last_line >= PLAIN_EVERY_S:
                last_line = time.monotonic()
                console.print(f"{profile.name}: {elapsed:.0f}s of ~{total:.0f}s; {figures}",
                              markup=False, highlight=False, soft_wrap=True)
            cpu.sample()
            time.sleep(0.25)
    for proc in procs[1:]:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    return master.returncode


def _figures(run_dir: Path) -> str:
    """The master's latest progress.json as one line: jobs/s, p99, errors, phase."""
    try:
        state = json.loads((run_dir / "progress.json").read_text())
    except (OSError, ValueError):
        return "starting Locust"
    p99 = state.get("p99_us")
    p99_text = f"{p99 / 1000:.2f} ms" if p99 is not None else "-"
    return (f"{state['jobs_per_s']:,} jobs/s, {state['p99_metric']} p99 {p99_text}, "
            f"{state['errors']} errors ({state['phase']})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def _print_summary(summary: dict[str, Any], console: Console, run_dir: Path) -> None:
    tp = summary["throughput"]
    inv = summary["invariants"]
    res = summary["latency"]["result"]["all"]
    cre = summary["latency"]["created"]["all"]

    def ms(d: dict[str, Any], key: str) -> str:
        return f"{d[key] / 1000:.2f}ms" if key in d else "-"

    console.print(f"[bold]{summary['profile']['name']}[/bold] @ {summary['server']}: "
                  f"{tp['jobs_per_s']:.0f} jobs/s, submitted {tp['submitted_per_s']:.0f}/s; "
                  f"result p50 {ms(res, 'p50_us')} p99 {ms(res, 'p99_us')}; "
                  f"created p50 {ms(cre, 'p50_us')} p99 {ms(cre, 'p99_us')}; "
                  f"lost {inv['lost']}, duplicated {inv['duplicated']}")
    cpu = summary.get("cpu", {})
    if "generator_us_per_job" in cpu:
        server = (f", server {cpu['server_us_per_job']:.1f} µs "
                  f"({cpu['server_share']:.0%} of a core)" if "server_us_per_job" in cpu else "")
        console.print(f"  CPU per job: generator {cpu['generator_us_per_job']:.1f} µs "
                      f"(busiest process {cpu['busiest_generator_share']:.0%} of a core)"
                      f"{server}")
    if "warning" in cpu:
        console.print(f"  [yellow]warning: {escape(cpu['warning'])}[/yellow]")
    if inv["defects"]:
        console.print("  [red]defects:[/red] " + ", ".join(
            f"{k} {v}" for k, v in inv["defects"].items()))
    for row in summary["thresholds"]:
        mark = "[green]PASS[/green]" if row["passed"] else "[red]FAIL[/red]"
        if row.get("actual_us") is not None:
            actual = f"{row['actual_us'] / 1000:.2f} ms"
        else:
            actual = str(row.get("actual"))
        console.print(f"  {mark} {escape(row['threshold'])} (actual {actual})")
    if summary.get("replay"):
        for line in replay_lines(summary["replay"]):
            console.print(escape(line))
    console.print(f"reports: {run_dir}")


def replay_lines(replay: dict[str, Any]) -> list[str]:
    """The replay next to its recording, one figure a line (summary.json's ``replay``)."""
    out = [f"replay at speed {replay['speed']:g} against the recording "
           f"(largest deviation {replay['max_deviation']:.1%}, tolerance "
           f"{replay['tolerance']:.0%}):"]
    for row in replay["rows"]:
        out.append(f"  {row['figure']:<24} recorded {_shown(row['recorded'])}"
                   + (f" x{replay['speed']:g} = {_shown(row['expected'])}"
                      if replay["speed"] != 1 and row["expected"] != row["recorded"] else "")
                   + f"  replayed {_shown(row['replayed'])}  ({row['measure']} "
                     f"{row['deviation']:.1%})")
    return out


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        if all(isinstance(v, float) and v <= 1 for v in value.values()):  # shares
            return ", ".join(f"{k} {v:.1%}" for k, v in value.items())
        return ", ".join(f"{k} {v:g}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
