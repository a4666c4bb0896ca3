# gearcheck: every target sets itself up (venv, system packages) on a fresh clone.
SHELL := /bin/bash
PY := .venv/bin/python
GEARCHECK := .venv/bin/gearcheck
SERVER ?=
PROFILE ?= steady-foreground
PROCESSES ?= $(or $(WORKERS),2)
PYTEST_ARGS ?=
# pytest-xdist processes for make test: the tests mostly wait on servers and sockets, so three
# share a 2-core machine well (945 tests: 18 min 38 s one at a time, 6 min 36 s with three)
TEST_WORKERS ?= 3

.PHONY: setup system-deps implementations test test-fast lint conformance compat matrix load load-distributed bench interop \
        fuzz mutants chaos serve bench-server bench-generator bench-conformance clean

setup: .venv/.gearcheck-installed

.venv/.gearcheck-installed: pyproject.toml
	bash scripts/setup-venv.sh

system-deps:
	bash scripts/install-system-deps.sh

# Servers from crates.io, the Go module proxy and npm, built once into ~/.cache/gearcheck.
implementations:
	bash scripts/install-implementations.sh

# Everything the tests drive is installed first: apt packages, Node and Python client libraries.
test: setup system-deps implementations
	bash scripts/install-interop-clients.sh
	$(PY) -m pytest tests -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The tests without the `slow` marker (each slow one starts many servers or runs for long).
test-fast: setup system-deps implementations
	bash scripts/install-interop-clients.sh
	$(PY) -m pytest tests -m "not slow" -n $(TEST_WORKERS) $(PYTEST_ARGS)

# ruff over every Python file in the repository, mypy (strict) over the package.
lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

# SERVER=name from fixtures/servers.yaml or host:port (none: the reference server, started
# and stopped), CASES=folder or file of your own cases, BASELINE=file, K=-k expr,
# N=xdist processes. make exits 2 whenever gearcheck exits non-zero (make cannot pass 1
# on); run .venv/bin/gearcheck conformance ... directly for the 0/1/2 exit codes.
SERVER := $(or $(SERVER),$(TARGET))
conformance: setup system-deps implementations
	$(GEARCHECK) conformance $(CASES) $(if $(SERVER),--server $(SERVER)) \
	  $(if $(BASELINE),--baseline $(BASELINE)) $(if $(K),-k '$(K)') $(if $(N),-n $(N))

# every server in fixtures/servers.yaml, side by side: reports/matrix/index.html + matrix.json
# ONLY=name,name restricts the servers; JOBS=cases at once per server (default 16).
matrix: setup system-deps implementations
	$(GEARCHECK) matrix --out reports/matrix $(if $(ONLY),--only $(ONLY)) \
	  $(if $(JOBS),--jobs $(JOBS))

# One compatibility table from the last matrix and interop runs (it runs neither):
# reports/compat/index.html, compat.json, summary.md.
compat: setup
	$(GEARCHECK) compat --matrix reports/matrix --interop reports/interop --out reports/compat

serve: setup
	$(GEARCHECK) serve --port 4730

# The reference server against gearmand, the swarm as load, servers pinned to CPU 0 (BENCH_ARGS).
BENCH_ARGS ?=
bench-server: setup system-deps
	$(PY) bench/refserver_vs_gearmand.py $(BENCH_ARGS)

# Generator CPU / server CPU per job (fg and pipelined bg, 1 and 2 Locust processes, gearmand):
# medians of 3 runs (GEN_ARGS e.g. --duration 10 --repeat 3); reports/bench/generator-cost-*.json
GEN_ARGS ?=
bench-generator: setup system-deps
	$(PY) bench/generator_cost.py $(GEN_ARGS)

# Wall time of the whole conformance suite against gearmand, 1 and 2 xdist workers:
# reports/bench/conformance-walltime-<time>.json
bench-conformance: setup system-deps
	$(PY) bench/conformance_walltime.py

# Locust swarm from a YAML profile: reports/load/<run>/ (summary.json, Locust HTML/CSV, PNGs).
# SERVER=host:port (none: the reference server is started), PROFILE=load/profiles/<name>.yaml,
# DURATION=5s scales the profile's stages. Exit 0 thresholds held, 1 one failed, 2 no run.
load: setup system-deps
	$(GEARCHECK) load --profile $(PROFILE) $(if $(SERVER),--server $(SERVER)) \
	  $(if $(DURATION),--duration $(DURATION))

# The same with Locust's own --master and PROCESSES=N --worker processes.
load-distributed: setup system-deps
	$(GEARCHECK) load --profile $(PROFILE) --processes $(PROCESSES) $(if $(SERVER),--server $(SERVER)) \
	  $(if $(DURATION),--duration $(DURATION))

# Every load profile against the reference server, then gearmand: ratio table (BENCH_DURATION).
BENCH_DURATION ?= 10s
bench: setup system-deps
	$(GEARCHECK) loadbench --duration $(BENCH_DURATION) $(BENCH_PROFILES)

# Client libraries (PHP, Node, Python) x worker libraries x servers, then the harness
# as the server against each library: reports/interop/index.html, interop.json, libraries/.
INTEROP_ARGS ?=
interop: setup system-deps
	bash scripts/install-interop-clients.sh
	$(GEARCHECK) interop $(INTEROP_ARGS)

# Every persistent queue x every fault it can take, judged job by job, then fill-and-drain
# soaks: reports/chaos/<run>/chaos.json and index.html (a timeline per cell). About 10
# minutes; known back-end defects are baselined in fixtures/baselines/chaos.yaml. Exit 0/1/2
# as the gate. CHAOS_ARGS adds options (e.g. --only redis, --seconds 10, --seed 2, --out DIR).
CHAOS_ARGS ?=
chaos: setup system-deps
	$(GEARCHECK) chaos --matrix --soak --seed 1 $(CHAOS_ARGS)

clean:
	rm -rf .venv reports/* .pytest_cache
