"""The extra servers a case asks for (``servers:``): started by the harness, or given by the user.

Strategy: a case names extra servers of the same implementation as the server
under test, each with an abstract ``ServerConfig``. Before the case runs, the
runner asks a provider for them and gets a ``CaseServers`` (name -> address,
plus restart for the ones the case may restart), or ``Unavailable`` with the
reason, which becomes an UNSUPPORTED verdict with that reason as evidence.

- ``ManagedServers`` (the harness manages the target: ``--target``, the
  default ``make conformance``, the matrix) creates servers from the target's
  registry entry, lets the target class map the configuration to its flags
  (``Target.apply_config``), and starts them on free loopback ports. Servers a
  case may only talk to are pooled per configuration in this process (cases use
  their own ``${fn}`` names, so they cannot see each other's jobs, and may run at
  the same time: acquiring is locked); servers the
  case restarts, ``fresh`` ones and persistent-queue ones are started for the
  case alone and stopped when it ends. ``close`` stops the pool. Each pytest
  process (xdist worker) has its own provider, so nothing is shared across
  processes.
- ``ExternalServers`` (``--server HOST:PORT``) can only hand out servers the
  user named (``--second-server``, repeatable), and only for cases that ask for
  default, shared servers; anything else is Unavailable.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..targets import ConfigUnsupported, ProcessTarget, ServerConfig, Target
from ..wire import Address


class Unavailable(Exception):
    """The case's servers cannot be provided here (an UNSUPPORTED verdict, not a failure)."""

    def __init__(self, message: str, evidence: dict[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = evidence


@dataclass(frozen=True)
class ServerNeed:
    name: str
    config: ServerConfig
    restarted: bool = False

    @property
    def dedicated(self) -> bool:
        """Started for one case alone (its state or its life is the case's business)."""
        return self.config.fresh or self.config.persistent_queue or self.restarted


def needs_of(servers: dict[str, ServerConfig], restarted: list[str]) -> list[ServerNeed]:
    return [ServerNeed(name, config, name in restarted) for name, config in servers.items()]


class CaseServers:
    """The extra servers of one running case."""

    def __init__(self, addresses: dict[str, Address],
                 targets: dict[str, ProcessTarget] | None = None,
                 on_release: Callable[[], None] | None = None,
                 disposable: set[str] | None = None) -> None:
        self.addresses = addresses
        self.targets = targets or {}  # the ones this case may restart
        self._on_release = on_release
        self.disposable = set(disposable or ())  # stopped when the case ends

    def lasting(self) -> dict[str, Address]:
        """The servers that outlive the case (to clean up after it), by address text."""
        return {str(a): a for n, a in self.addresses.items() if n not in self.disposable}

    def restart(self, name: str, *, hard: bool) -> dict[str, object]:
        target = self.targets.get(name)
        if target is None:
            raise RuntimeError(f"server {name!r} is not one this case may restart")
        old_pid = target.pid
        target.restart(hard=hard)
        self.addresses[name] = target.address
        return {"server": name, "how": "kill -9" if hard else "SIGTERM", "old_pid": old_pid,
                "new_pid": target.pid, "address": str(target.address)}

    def describe(self) -> dict[str, str]:
        return {name: str(addr) for name, addr in self.addresses.items()}

    def release(self) -> None:
        if self._on_release is not None:
            self._on_release()
            self._on_release = None


class ExtraServers:
    """Where extra servers come from; subclasses say how."""

    def acquire(self, needs: list[ServerNeed], case_id: str) -> CaseServers:
        raise NotImplementedError

    def close(self) -> None:
        return None


class ExternalServers(ExtraServers):
    def __init__(self, addresses: list[Address]) -> None:
        self.addresses = list(addresses)

    def acquire(self, needs: list[ServerNeed], case_id: str) -> CaseServers:
        evidence: dict[str, str] = {}
        for need in needs:
            if need.dedicated or not need.config.flags_default:
                why = ("the case restarts it" if need.restarted else
                       f"it needs {need.config.describe()}")
                evidence[need.name] = (f"{why}: only a server the harness starts itself can "
                                       "do that; run with --target NAME (or make conformance "
                                       "without SERVER)")
        shared = [n for n in needs if n.name not in evidence]
        if len(shared) > len(self.addresses):
            for need in shared[len(self.addresses):]:
                evidence[need.name] = (f"the case needs {len(shared)} more server(s) of the same "
                                       f"implementation; give each with --second-server "
                                       f"HOST:PORT ({len(self.addresses)} given)")
        if evidence:
            raise Unavailable("the case needs servers this run cannot provide: "
                              + "; ".join(f"{k}: {v}" for k, v in evidence.items()), evidence)
        return CaseServers({n.name: a for n, a in zip(shared, self.addresses, strict=False)})


class ManagedServers(ExtraServers):
    """Starts servers with ``factory(log_dir)`` (a not-yet-started target of the implementation)."""

    def __init__(self, factory: Callable[[Path], Target], implementation: str) -> None:
        self.factory = factory
        self.implementation = implementation
        self.root = Path(tempfile.mkdtemp(prefix="gearcheck-extra-"))
        self.pool: dict[tuple[bool, int | None], list[ProcessTarget]] = {}
        self.unsupported: dict[ServerConfig, str] = {}
        self.count = 0
        self._lock = threading.Lock()  # cases of one run may acquire from several threads

    def _create(self, config: ServerConfig) -> ProcessTarget:
        self.count += 1
        state = self.root / f"server-{self.count}"
        target = self.factory(state)
        if not isinstance(target, ProcessTarget):
            raise ConfigUnsupported(f"{self.implementation} is not started by the harness")
        target.apply_config(config, state)
        return target

    def _check_supported(self, needs: list[ServerNeed]) -> None:
        evidence: dict[str, str] = {}
        for need in needs:
            key = ServerConfig(exceptions=need.config.exceptions,
                               job_retries=need.config.job_retries,
                               persistent_queue=need.config.persistent_queue,
                               queue_backend=need.config.queue_backend)
            if key not in self.unsupported:
                try:
                    self._create(key)  # translating the flags is enough to know
                except ConfigUnsupported as exc:
                    self.unsupported[key] = str(exc)
                else:
                    self.unsupported[key] = ""
            if self.unsupported[key]:
                evidence[need.name] = self.unsupported[key]
        if evidence:
            raise Unavailable("the implementation cannot be started as the case needs: "
                              + "; ".join(f"{k}: {v}" for k, v in evidence.items()), evidence)

    def acquire(self, needs: list[ServerNeed], case_id: str) -> CaseServers:
        with self._lock:
            return self._acquire(needs)

    def _acquire(self, needs: list[ServerNeed]) -> CaseServers:
        self._check_supported(needs)
        addresses: dict[str, Address] = {}
        own: dict[str, ProcessTarget] = {}
        taken: dict[tuple[bool, int | None], int] = {}
        try:
            for need in needs:
                if need.dedicated:
                    target = self._create(need.config)
                    own[need.name] = target
                    target.start()
                else:
                    key = need.config.pool_key()
                    servers = self.pool.setdefault(key, [])
                    index = taken.get(key, 0)
                    taken[key] = index + 1
                    if index == len(servers):
                        target = self._create(need.config)
                        servers.append(target)  # pooled first: close() stops it even if start fails
                        target.start()
                    target = servers[index]
                    if target.process is None or target.process.poll() is not None:
                        target.start()  # it died since: a case must not inherit that
                addresses[need.name] = target.address
        except BaseException:
            _stop_all(own.values())
            raise

        def release() -> None:
            _stop_all(own.values())
            for target in own.values():
                shutil.rmtree(target.log_dir, ignore_errors=True)

        restartable = {n.name: own[n.name] for n in needs if n.restarted}
        return CaseServers(addresses, restartable, release, disposable=set(own))

    def close(self) -> None:
        with self._lock:
            _stop_all(t for servers in self.pool.values() for t in servers)
            self.pool.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _stop_all(targets: object) -> None:
    for target in list(targets):  # type: ignore[call-overload]
        try:
            target.stop()
        except Exception:
            pass
