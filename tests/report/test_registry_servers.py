"""fixtures/servers.yaml loading, and every server in it started and stopped for real."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from gearcheck.protocol import parse_status
from gearcheck.targets import (
    ExternalTarget,
    GearmandTarget,
    GearServerTarget,
    PerlServerTarget,
    ProcessTarget,
    TargetError,
    find,
    open_managed,
    open_target,
)
from gearcheck.targets.registry import (
    DEFAULT_SERVERS_FILE,
    RegistryError,
    load_registry,
    parse_registry,
    select,
)
from gearcheck.wire import Connection, ReceiveTimeout


def test_the_project_registry_lists_every_server_and_the_variants() -> None:
    specs = load_registry()
    implementations = select(specs, None)  # what `make matrix` runs: no variants
    assert [s.name for s in implementations] == [
        "refserver", "gearmand-1.1.20", "perl-gearman-server", "gear", "rustygeard-0.15.0",
        "g2", "abraxas-2.1.10", "refserver-tls", "rustygeard-0.15.0-tls", "gear-tls"]
    assert {s.target_class().__name__ for s in specs} == {
        "RefServerTarget", "GearmandTarget", "PerlServerTarget", "GearServerTarget",
        "RustygeardTarget", "G2Target", "AbraxasServerTarget"}
    assert all(s.baseline is None or s.baseline.is_file() for s in specs)
    # servers that crash run their matrix cases one at a time (no case beside a crash)
    assert {s.name for s in specs if s.jobs == 1} == {"g2", "abraxas-2.1.10"}
    gearmand = select(specs, ["gearmand-1.1.20"])[0]
    assert gearmand.baseline == DEFAULT_SERVERS_FILE.parent / "baselines/gearmand-1.1.20.yaml"
    assert gearmand.where == f"{DEFAULT_SERVERS_FILE}:22"
    variants = {s.name: s for s in specs if s.variant_of}
    assert {n for n, s in variants.items() if s.variant_of == "gearmand-1.1.20"} == {
        "gearmand-sqlite", "gearmand-mysql", "gearmand-postgres", "gearmand-redis",
        "gearmand-memcached", "gearmand-threads0", "gearmand-threads1", "gearmand-threads4"}
    assert variants["refserver-sqlite"].variant_of == "refserver"
    assert [s.name for s in select(specs, ["gearmand-redis"])] == ["gearmand-redis"]


def test_a_variant_must_name_a_registered_server(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"s\.yaml:2: a: variant_of 'nope' is not a server"):
        parse_registry(GOOD + "    variant_of: nope\n", "s.yaml")


def test_aliases_name_the_same_entry_everywhere() -> None:
    specs = load_registry()
    assert find(specs, "gearmand") is find(specs, "gearmand-1.1.20")
    assert [s.name for s in select(specs, ["perl", "gearmand"])] == [
        "gearmand-1.1.20", "perl-gearman-server"]
    with pytest.raises(RegistryError, match=r"unknown server 'nope'.*gearmand-1.1.20 \(gearmand\)"):
        find(specs, "nope")


def test_open_target_takes_a_name_or_an_address(tmp_path: Path) -> None:
    external = open_target("127.0.0.1:4999")
    assert isinstance(external, ExternalTarget) and external.address.port == 4999
    managed = open_target("gearmand", log_dir=tmp_path)
    assert isinstance(managed, GearmandTarget) and managed.name == "gearmand-1.1.20"
    assert managed.verbose == "ERROR"  # the registry's args
    with pytest.raises(TargetError, match="someone else's server"):
        open_managed("127.0.0.1:4999")


def test_an_alias_may_not_repeat_a_name(tmp_path: Path) -> None:
    text = (GOOD + "    aliases: [b]\n"
            "  - name: b\n    target: gearcheck.targets.gearmand.GearmandTarget\n")
    with pytest.raises(RegistryError, match="'b' is used twice"):
        parse_registry(text, tmp_path / "servers.yaml")


GOOD = "servers:\n  - name: a\n    target: gearcheck.targets.gearmand.GearmandTarget\n"


@pytest.mark.parametrize(("text", "message"), [
    ("servers:\n  - name: a\n    target: gearcheck.nope.Thing\n",
     r"s\.yaml:3: target 'gearcheck\.nope\.Thing': cannot import module 'gearcheck\.nope'"),
    ("servers:\n  - name: a\n    target: gearcheck.targets.Nothing\n",
     r"s\.yaml:3: .*module 'gearcheck\.targets' has no 'Nothing'"),
    ("servers:\n  - name: a\n    target: gearcheck.wire:Connection\n",
     r"s\.yaml:3: target 'gearcheck\.wire:Connection' is not a gearcheck Target class"),
    ("servers:\n  - name: a\n", r"s\.yaml:2: a: 'target' .* is required"),
    ("servers:\n  - name: a b\n    target: x.Y\n", r"s\.yaml:2: 'name' must be a short name"),
    (GOOD + "    argz: {}\n", r"s\.yaml:4: unknown key 'argz'"),
    (GOOD + "    args: [1]\n", r"s\.yaml:4: a: 'args' must be a mapping"),
    (GOOD + "    jobs: 0\n", r"s\.yaml:4: a: 'jobs' must be a whole number of at least 1"),
    (GOOD + GOOD.replace("servers:\n", ""), r"s\.yaml:4: server name 'a' is used twice "
                                            r"\(first at line 2\)"),
    ("servers: []\n", r"s\.yaml:1: 'servers' is empty"),
    ("- name: a\n", r"s\.yaml:1: expected one document with 'servers:'"),
    ("servers:\n  - name: [\n", r"s\.yaml:3: not valid YAML"),
])
def test_registry_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry(text, Path("s.yaml"))


def test_bad_args_fail_when_the_target_is_created() -> None:
    spec = parse_registry(GOOD + "    args: {colour: blue}\n", "s.yaml")[0]
    with pytest.raises(RegistryError, match=r"s\.yaml:2: a: cannot create .*colour"):
        spec.create()


def test_unknown_server_names_are_refused() -> None:
    with pytest.raises(RegistryError, match=r"unknown server 'nginx'; the registry has refserver"):
        select(load_registry(), ["gear", "nginx"])




@pytest.mark.parametrize("name", ["refserver", "gearmand-1.1.20", "perl-gearman-server", "gear"])
def test_every_registered_server_starts_answers_and_stops(name: str, tmp_path: Path) -> None:
    spec = select(load_registry(), [name])[0]
    target = spec.create(log_dir=tmp_path)
    assert isinstance(target, ProcessTarget)
    with target:
        pid = target.pid
        assert pid is not None and target.address.host == "127.0.0.1"
        with Connection.open(target.address, timeout=5) as conn:
            assert not parse_status(conn.admin("status", timeout=5))  # no functions yet
            if name == "gear":
                # gear.Server ignores ECHO_REQ: why its target probes with `status`
                with pytest.raises(ReceiveTimeout):
                    conn.echo(b"ping", timeout=0.5)
            else:
                assert conn.echo(b"ping", timeout=5) >= 0
    assert target.process is None
    assert not psutil.pid_exists(pid)


def test_perl_server_runs_through_perl_not_path(tmp_path: Path) -> None:
    argv = PerlServerTarget(log_dir=tmp_path).command(4730)
    assert Path(argv[0]).name == "perl" and argv[1] == "/usr/bin/gearmand"
    assert argv[2:] == ["-L", "127.0.0.1", "-p", "4730"]
    assert PerlServerTarget.version().startswith("v1.")


def test_gear_server_version_and_launcher(tmp_path: Path) -> None:
    assert GearServerTarget.version().startswith("0.")
    argv = GearServerTarget(log_dir=tmp_path).command(5000)
    assert argv[1:3] == ["-m", "gearcheck.targets._gear_launcher"]
