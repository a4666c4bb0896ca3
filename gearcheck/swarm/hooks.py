"""Locust event wiring: user classes from the profile, merging, drain, summary.

Strategy: ``install(profile, address, globals)`` is everything
the locustfile does. It creates one Locust user class per client mix
(``weight``) and per worker mix (``fixed_count``), and a ``ProfileShape``,
and registers listeners on Locust's own events:
  init             master/local: a ``Controller`` (Aggregate + StatusPoller);
                   every runner: the drain / flush custom messages
  report_to_master worker process: attach this process's measurement deltas
  worker_report    master: merge them (HDR histograms, ledger, counters)
  test_start/stop  start the poller / write summary.json and the plots
  quitting         process_exit_code = 0 when every threshold holds, else 1
The end of a run is: stages over -> drain message (clients stop submitting,
workers go on) -> queue empty on the server or drain_timeout -> flush message
(every process sends its last deltas) -> shape returns None.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import gevent
import locust.stats
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from ..wire import Address
from .capacity import CapacitySearch, evaluate_step
from .client import GearmanClientUser
from .collector import Aggregate
from .latency import new_histogram
from .plots import draw_all
from .poller import StatusPoller
from .profile import LoadProfile, ProfileError, load_profile
from .replay import ReplayClientUser, fidelity, install_clock
from .runtime import configure, current
from .shape import ProfileShape
from .summary import build_summary

log = logging.getLogger("gearcheck.swarm")
REPORT_DIR_ENV = "GEARCHECK_REPORT_DIR"
FLUSH_WAIT_S = 10.0
REPORT_LAG_S = 3.5  # Locust workers report every 3 s: a distributed step waits for its data


class Controller:
    """The master's (or the single process's) side of a run."""

    def __init__(self, environment: Any, profile: LoadProfile, address: Address) -> None:
        self.environment = environment
        self.profile = profile
        self.address = address
        self.reset()

    def reset(self) -> None:
        self.search = CapacitySearch(self.profile.capacity) if self.profile.capacity else None
        self.step_started: float | None = None
        self.step_rate = 0.0
        self.aggregate = Aggregate()
        self.poller = StatusPoller(self.address, self.profile.functions)
        self.aggregate.server_samples = self.poller.samples
        self.drain_started: float | None = None
        self.flush_started: float | None = None
        self.summary: dict[str, Any] | None = None
        self.progress: gevent.Greenlet | None = getattr(self, "progress", None)
        if self.progress is not None:
            self.progress.kill(block=False)
            self.progress = None

    # -- progress: every second, for the runner's bar or plain lines ---------
    def progress_forever(self) -> None:
        while True:
            gevent.sleep(PROGRESS_S)
            try:
                self.write_progress()
            except Exception as exc:  # progress is a convenience: never stop the run
                log.debug("gearcheck: progress not written: %s", exc)

    def write_progress(self) -> None:
        """progress.json: jobs/s in the last whole second, p99 of the last 5 s, errors."""
        if not isinstance(self.environment.runner, MasterRunner) and self.search is None:
            self.aggregate.merge(current().measurements.export())
        agg = self.aggregate
        now = int(time.time())
        lag = 4 if isinstance(self.environment.runner, MasterRunner) else 1
        done_kind = "executed" if self.profile.worker_users else "created"
        recent = [s for s in range(now - lag - 5, now - lag + 1) if s in agg.per_second]
        jobs_per_s = agg.per_second[recent[-1]].get(done_kind, 0) if recent else 0
        metric = "result" if any((("result", s) in agg.latency.by_second) for s in recent) \
            else "created"
        hist = new_histogram(2)
        for s in recent:
            part = agg.latency.by_second.get((metric, s))
            if part is not None:
                hist.add(part)
        counts = agg.ledger.counts
        errors = sum(agg.errors.values()) + counts["fg_fail"] + counts["fg_exception"]
        phase = "drain" if self.drain_started is not None else "load"
        if self.search is not None and self.drain_started is None:
            phase = f"capacity step {len(self.search.steps) + 1} at {self.step_rate:,.0f}/s"
        state = {"t": time.time(), "phase": phase, "jobs_per_s": jobs_per_s,
                 "p99_metric": metric,
                 "p99_us": hist.get_value_at_percentile(99) if hist.get_total_count() else None,
                 "errors": errors, "submitted": sum(c.get("submitted", 0)
                                                    for c in agg.per_second.values())}
        out = _report_dir() / "progress.json"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(out)

    # -- capacity mode: called by the shape about once a second ------------
    def searching(self, t: float) -> bool:
        """Run the capacity search's steps; False once it is over (then the drain)."""
        search = self.search
        assert search is not None
        runner = self.environment.runner
        distributed = isinstance(runner, MasterRunner)
        if not distributed:  # a single process: fold its figures in as the steps go
            self.aggregate.merge(current().measurements.export())
        now = time.time()
        if self.step_started is None:
            if runner.user_count < self.profile.worker_users + self.profile.max_client_users \
                    and t < 10:
                return True  # still spawning
            self._offer(search.rate, now)
            return True
        settings = search.settings
        lag = REPORT_LAG_S if distributed else 0.0
        if now < self.step_started + settings.step_s + lag:
            return True
        start = int(self.step_started) + 2  # the first whole second after the rate settled
        end = int(self.step_started + settings.step_s)
        step = evaluate_step(self.aggregate, settings.slo, self.step_rate, start, end,
                             self.profile.worker_users)
        step["step"] = len(search.steps) + 1
        step["started_epoch_s"] = round(self.step_started, 3)
        search.record(step)
        log.info("gearcheck capacity: step %d offered %.0f/s achieved %.0f/s, %s %s us: %s",
                 step["step"], step["offered_rate"], step["achieved_rate"],
                 settings.slo.label(), step["latency_us"], "held" if step["held"] else "broke")
        if search.done:
            self.rate_scale(0.0)  # nothing more is offered while the run drains
            return False
        self._offer(search.rate, now)
        return True

    def _offer(self, rate: float, now: float) -> None:
        self.step_started = now
        self.step_rate = rate
        self.rate_scale(rate / self.base_rate())

    def base_rate(self) -> float:
        """Jobs/s the client users offer at scale 1 (Locust spreads users by weight)."""
        users = self.profile.max_client_users
        total_weight = sum(c.weight for c in self.profile.clients) or 1
        return sum(users * c.weight / total_weight * c.rate
                   for c in self.profile.clients if c.open_model) or 1.0

    def rate_scale(self, scale: float) -> None:
        runner = self.environment.runner
        runner.send_message("gearcheck_rate", scale)
        if not isinstance(runner, MasterRunner):
            current().measurements.rate_scale = scale

    # -- called by the shape, about once a second, after the stages -------
    def finishing(self, seconds_after_load: float) -> bool:
        runner = self.environment.runner
        if self.drain_started is None:
            self.drain_started = time.monotonic()
            log.info("gearcheck: load over, draining (clients stop submitting)")
            runner.send_message("gearcheck_drain")
            return True
        if self.flush_started is None:
            if not self._drained(time.monotonic() - self.drain_started):
                return True
            self.flush_started = time.monotonic()
            runner.send_message("gearcheck_flush")
            if not isinstance(runner, MasterRunner):
                self.aggregate.merge({**current().measurements.export(), "final": True})
            return True
        expected = len(runner.clients) if isinstance(runner, MasterRunner) else 1
        done = len(self.aggregate.final_reports) >= expected
        return not done and time.monotonic() - self.flush_started < FLUSH_WAIT_S

    def _drained(self, elapsed: float) -> bool:
        if elapsed >= self.profile.drain_timeout:
            log.warning("gearcheck: drain_timeout reached with jobs left on the server")
            return True
        if elapsed < 1.0:
            return False
        if not self.profile.worker_users:
            return True  # nothing would empty the queue: it is reported as still queued
        # Only functions some worker serves can drain; jobs for the others are
        # reported as still queued, never waited for.
        served = {f for w in self.profile.workers if w.count for f in w.functions}
        recent = [s for s in self.poller.samples[-2:] if "error" not in s]
        return len(recent) == 2 and recent[0]["t"] >= time.time() - elapsed and all(
            sum(row[0] for fn, row in s["functions"].items() if fn in served) == 0
            for s in recent)

    # -- the end -----------------------------------------------------------
    def write_summary(self) -> dict[str, Any]:
        self.poller.stop()
        if self.progress is not None:
            self.progress.kill(block=False)
            self.progress = None
        final = self.poller.poll_once()
        queued_at_end = final["queued"] + final["running"] if final else 0
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner):
            self.aggregate.merge({**current().measurements.export(), "final": True})
        stats = self.environment.stats.total
        extra = {"locust": {"requests": stats.num_requests, "failures": stats.num_failures,
                            "processes": len(runner.clients)
                            if isinstance(runner, MasterRunner) else 1}}
        if self.search is not None:
            extra["capacity"] = self.search.result()
        replayed = fidelity(self.profile, self.aggregate)
        if replayed is not None:
            extra["replay"] = replayed
        summary = build_summary(self.profile, str(self.address), self.aggregate,
                                queued_at_end, extra)
        out_dir = _report_dir()
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        try:
            draw_all(summary, out_dir)
        except Exception as exc:  # plots are a convenience: never lose the summary
            log.error("gearcheck: plotting failed: %s", exc)
        self.summary = summary
        log.info("gearcheck: summary written to %s (thresholds %s)", out_dir / "summary.json",
                 "passed" if summary["passed"] else "FAILED")
        return summary


_controller: Controller | None = None
OBSERVATION_FLUSH_S = 0.5
PROGRESS_S = 1.0
_WEB_UI_RUN = time.strftime("%Y%m%d-%H%M%S-webui")


def _report_dir() -> Path:
    out = Path(os.environ.get(REPORT_DIR_ENV) or Path("reports/load") / _WEB_UI_RUN)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _flush_observations_forever(measurements: Any) -> None:
    """Latencies counted in the users reach Locust's live statistics within half a second;
    once a second, every client gives up on jobs older than the profile's job_timeout."""
    ticks = 0
    while True:
        gevent.sleep(OBSERVATION_FLUSH_S)
        measurements.flush_observations()
        ticks += 1
        if ticks % 2 == 0:
            for user in list(measurements.clients):
                user.expire()


def controller() -> Controller | None:
    return _controller


def target_host(address: Address) -> str:
    """What Locust's UI and HTML report show as the target."""
    return f"gearman://{address}"


def install(profile: LoadProfile, address: Address, namespace: dict[str, Any]) -> None:
    """Define the user classes and shape in ``namespace`` and hook Locust's events."""
    configure(profile, address)
    # Locust's HTML report charts its history: one point a second, not one per five.
    locust.stats.HISTORY_STATS_INTERVAL_SEC = 1
    namespace.update(user_classes(profile, address))
    namespace["GearcheckShape"] = _shape_class(profile)
    _register_listeners(profile, address)


def user_classes(profile: LoadProfile, address: Address) -> dict[str, type]:
    """One Locust user class per client mix (``weight``) and worker mix (``fixed_count``)."""
    from .worker import GearmanWorkerUser

    classes: dict[str, type] = {}
    client_base = ReplayClientUser if profile.rate_stages else GearmanClientUser
    if profile.rate_stages:
        install_clock()
    for mix in profile.clients:
        name = f"Client_{mix.name}"
        attrs: dict[str, Any] = {"mix": mix, "weight": mix.weight, "__module__": __name__,
                                 "host": target_host(address)}
        if mix.users is not None:
            attrs["fixed_count"] = mix.users
        classes[name] = type(name, (client_base,), attrs)
    for wmix in profile.workers:
        if wmix.count == 0:
            continue
        name = f"Worker_{wmix.name}"
        classes[name] = type(name, (GearmanWorkerUser,),
                             {"mix": wmix, "fixed_count": wmix.count, "__module__": __name__,
                              "host": target_host(address)})
    return classes


def _shape_class(profile: LoadProfile) -> type:
    return type("GearcheckShape", (ProfileShape,),
                {"profile": profile, "controller": _EndProxy(), "__module__": __name__})


def reconfigure(environment: Any, profile_path: str, server: str) -> str | None:
    """Run ``profile_path`` against ``server`` from now on (the web UI's choice); the
    problem, in one line, when they cannot be used."""
    rt = current()
    if profile_path == rt.profile.path and server == str(rt.address):
        return None
    try:
        profile = load_profile(profile_path)
        address = Address.parse(server or profile.server or "")
    except (ProfileError, ValueError) as exc:
        return f"gearcheck: {exc}"
    configure(profile, address)
    environment.user_classes = list(user_classes(profile, address).values())
    shape = _shape_class(profile)()
    shape.runner = environment.runner
    environment.shape_class = shape
    environment.host = target_host(address)
    if _controller is not None:
        _controller.profile = profile
        _controller.address = address
    log.info("gearcheck: now running %s against %s", profile_path, address)
    return None


def _web_ui_choice(environment: Any) -> None:
    """The start form's profile and server fields decide what the run uses."""
    from flask import jsonify, request

    @environment.web_ui.app.before_request
    def choose() -> Any:
        if request.method != "POST" or not request.path.endswith("/swarm"):
            return None
        profile = request.form.get("gearcheck_profile") or current().profile.path
        server = request.form.get("gearman_server") or str(current().address)
        problem = reconfigure(environment, profile, server)
        if problem:
            return jsonify({"success": False, "message": problem, "host": environment.host})
        return None


class _EndProxy:
    def finishing(self, seconds_after_load: float) -> bool:
        assert _controller is not None
        return _controller.finishing(seconds_after_load)

    def searching(self, t: float) -> bool:
        assert _controller is not None
        return _controller.searching(t)


def _register_listeners(profile: LoadProfile, address: Address) -> None:
    @events.init.add_listener
    def on_init(environment: Any, **_kw: Any) -> None:
        global _controller
        runner = environment.runner
        if not environment.host:
            environment.host = target_host(address)
        if getattr(environment, "web_ui", None) is not None:
            _web_ui_choice(environment)
        measurements = current().measurements
        if not isinstance(runner, WorkerRunner):
            _controller = Controller(environment, profile, address)

            def on_final(environment: Any, msg: Any, **_kw: Any) -> None:
                assert _controller is not None
                _controller.aggregate.merge(msg.data, msg.node_id)

            if isinstance(runner, MasterRunner):
                runner.register_message("gearcheck_final", on_final)

        def on_drain(environment: Any, msg: Any, **_kw: Any) -> None:
            measurements.draining = True

        def on_flush(environment: Any, msg: Any, **_kw: Any) -> None:
            measurements.finish_clients()
            if isinstance(runner, WorkerRunner):
                runner.send_message("gearcheck_final", {**measurements.export(), "final": True})

        def on_rate(environment: Any, msg: Any, **_kw: Any) -> None:
            measurements.rate_scale = float(msg.data)

        runner.register_message("gearcheck_drain", on_drain)
        runner.register_message("gearcheck_rate", on_rate)
        runner.register_message("gearcheck_flush", on_flush)

    @events.report_to_master.add_listener
    def on_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        data["gearcheck"] = current().measurements.export()

    @events.worker_report.add_listener
    def on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        if _controller is not None and "gearcheck" in data:
            _controller.aggregate.merge(data["gearcheck"], client_id)

    @events.test_start.add_listener
    def on_test_start(environment: Any, **_kw: Any) -> None:
        options = environment.parsed_options
        if isinstance(environment.runner, WorkerRunner) and options is not None:
            # the master's web UI may have chosen another profile or server
            reconfigure(environment, options.gearcheck_profile or current().profile.path,
                        options.gearman_server or str(current().address))
        measurements = current().measurements
        measurements.draining = False
        if not isinstance(environment.runner, MasterRunner):
            gevent.spawn(_flush_observations_forever, measurements)
        if _controller is not None and not isinstance(environment.runner, WorkerRunner):
            _controller.reset()
            _controller.poller.start()
            _controller.progress = gevent.spawn(_controller.progress_forever)

    @events.test_stop.add_listener
    def on_test_stop(environment: Any, **_kw: Any) -> None:
        if _controller is not None and not isinstance(environment.runner, WorkerRunner):
            _controller.write_summary()

    @events.quitting.add_listener
    def on_quitting(environment: Any, **_kw: Any) -> None:
        if _controller is not None and not isinstance(environment.runner, WorkerRunner):
            summary = _controller.summary
            environment.process_exit_code = 0 if summary and summary["passed"] else 1
