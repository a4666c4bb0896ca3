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
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from ..wire import Address
from .capacity import CapacitySearch, evaluate_step
from .client import GearmanClientUser
from .collector import Aggregate
from .plots import draw_all
from .poller import StatusPoller
from .profile import Profile
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

    def __init__(self, environment: Any, profile: Profile, address: Address) -> None:
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
        summary = build_summary(self.profile, str(self.address), self.aggregate,
                                queued_at_end, extra)
        out_dir = Path(os.environ.get(REPORT_DIR_ENV) or
                       Path("reports/load") / time.strftime("%Y%m%d-%H%M%S-webui"))
        out_dir.mkdir(parents=True, exist_ok=True)
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


def install(profile: Profile, address: Address, namespace: dict[str, Any]) -> None:
    """Define the user classes and shape in ``namespace`` and hook Locust's events."""
    configure(profile, address)
    from .worker import GearmanWorkerUser

    client_base = ReplayClientUser if profile.rate_stages else GearmanClientUser
    if profile.rate_stages:
        install_clock()
    for mix in profile.clients:
        name = f"Client_{mix.name}"
        attrs: dict[str, Any] = {"mix": mix, "weight": mix.weight, "__module__": __name__}
        if mix.users is not None:
            attrs["fixed_count"] = mix.users
        namespace[name] = type(name, (client_base,), attrs)
    for wmix in profile.workers:
        if wmix.count == 0:
            continue
        name = f"Worker_{wmix.name}"
        namespace[name] = type(name, (GearmanWorkerUser,),
                               {"mix": wmix, "fixed_count": wmix.count, "__module__": __name__})
    namespace["GearcheckShape"] = type("GearcheckShape", (ProfileShape,),
                                       {"profile": profile, "controller": _EndProxy(),
                                        "__module__": __name__})
    _register_listeners(profile, address)


class _EndProxy:
    def finishing(self, seconds_after_load: float) -> bool:
        assert _controller is not None
        return _controller.finishing(seconds_after_load)

    def searching(self, t: float) -> bool:
        assert _controller is not None
        return _controller.searching(t)


def _register_listeners(profile: Profile, address: Address) -> None:
    @events.init.add_listener
    def on_init(environment: Any, **_kw: Any) -> None:
        global _controller
        runner = environment.runner
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
        measurements = current().measurements
        measurements.draining = False
        if not isinstance(environment.runner, MasterRunner):
            gevent.spawn(_flush_observations_forever, measurements)
        if _controller is not None and not isinstance(environment.runner, WorkerRunner):
            _controller.reset()
            _controller.poller.start()

    @events.test_stop.add_listener
    def on_test_stop(environment: Any, **_kw: Any) -> None:
        if _controller is not None and not isinstance(environment.runner, WorkerRunner):
            _controller.write_summary()

    @events.quitting.add_listener
    def on_quitting(environment: Any, **_kw: Any) -> None:
        if _controller is not None and not isinstance(environment.runner, WorkerRunner):
            summary = _controller.summary
            environment.process_exit_code = 0 if summary and summary["passed"] else 1
