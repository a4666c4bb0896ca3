#!/usr/bin/env bash
# Installs the Gearman client libraries the interop matrix drives, into the
# project's own folders: the PHP extension, Perl's Gearman::Client and the
# `gearman` tool (Debian packages, through install-system-deps.sh), the Node
# libraries (npm ci from the committed lock file into
# fixtures/clients/node/node_modules), each Python library in its own venv
# (fixtures/clients/python/venv-<name>; pygearman and others clash on the
# top-level `gearman` package), then builds the compiled drivers against their
# pinned libraries: Go (go.mod/go.sum -> fixtures/clients/go/bin), Rust
# (cargo build --locked -> fixtures/clients/rust/target) and Java (mvn
# dependency:copy-dependencies -> fixtures/clients/java/lib/<library>, javac ->
# classes). Idempotent: a stamp file per install records what was installed
# (a hash of the inputs); nothing is redone while it matches, so the builds
# run once per machine and nothing is downloaded at test time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/install-system-deps.sh"

# --- Node ---------------------------------------------------------------
NODE_DIR="$ROOT/fixtures/clients/node"
lock_sum="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$NODE_DIR/node_modules/.gearcheck-stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "installing Node client libraries (npm ci) in $NODE_DIR" >&2
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$NODE_DIR/node_modules/.gearcheck-stamp"
fi

# --- Python -------------------------------------------------------------
PY_DIR="$ROOT/fixtures/clients/python"
PYTHON="${GEARCHECK_CLIENT_PYTHON:-python3}"
# name==version, one venv each
PY_LIBS=(pygearman==0.2.6 python3-gearman==0.1.0 gear==0.16.0 aiogear==0.2.6)
for spec in "${PY_LIBS[@]}"; do
  name="${spec%%==*}"
  venv="$PY_DIR/venv-$name"
  if [ "$(cat "$venv/.gearcheck-stamp" 2>/dev/null)" != "$spec" ]; then
    echo "installing $spec into $venv" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet "$spec"
    echo "$spec" > "$venv/.gearcheck-stamp"
  fi
done

# --- compiled drivers ------------------------------------------------------
# stamp_of FILES...: one hash of the inputs and the toolchain that builds them
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
need() { command -v "$1" >/dev/null || { echo "install-interop-clients: $1 not found (needed for $2)" >&2; exit 2; }; }

# Go: github.com/mikespook/gearman-go at the commit pinned in go.mod (the module
# has no release tags; the proxy serves the pseudo-version).
GO_DIR="$ROOT/fixtures/clients/go"
need go "the gearman-go drivers"
go_sum="$(cd "$GO_DIR" && { go version; stamp_of go.mod go.sum contract/*.go client/*.go worker/*.go; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$GO_DIR/bin/.gearcheck-stamp" 2>/dev/null)" != "$go_sum" ]; then
  echo "building the gearman-go drivers in $GO_DIR/bin" >&2
  (cd "$GO_DIR" && go build -trimpath -o bin/gearman-go-client ./client \
     && go build -trimpath -o bin/gearman-go-worker ./worker)
  echo "$go_sum" > "$GO_DIR/bin/.gearcheck-stamp"
fi

# Rust: rustygear 0.15.0, every crate pinned by the committed Cargo.lock.
RUST_DIR="$ROOT/fixtures/clients/rust"
need cargo "the rustygear drivers"
rust_sum="$(cd "$RUST_DIR" && { cargo --version; stamp_of Cargo.toml Cargo.lock src/*.rs src/bin/*.rs; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$RUST_DIR/target/.gearcheck-stamp" 2>/dev/null)" != "$rust_sum" ]; then
  echo "building the rustygear drivers in $RUST_DIR/target (cargo build --release --locked)" >&2
  (cd "$RUST_DIR" && cargo build --quiet --release --locked)
  echo "$rust_sum" > "$RUST_DIR/target/.gearcheck-stamp"
fi

# Java: org.gearman:gearman-java 0.6 and its dependencies (pom.xml) copied into
# lib/gearman-java, the drivers compiled into classes/.
JAVA_DIR="$ROOT/fixtures/clients/java"
need mvn "the Java drivers"
need javac "the Java drivers"
pom_sum="$(stamp_of "$JAVA_DIR/pom.xml")"
if [ "$(cat "$JAVA_DIR/lib/gearman-java/.gearcheck-stamp" 2>/dev/null)" != "$pom_sum" ]; then
  echo "copying gearman-java 0.6 and its dependencies into $JAVA_DIR/lib/gearman-java" >&2
  rm -rf "$JAVA_DIR/lib/gearman-java"
  (cd "$JAVA_DIR" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
     -DoutputDirectory="$JAVA_DIR/lib/gearman-java")
  echo "$pom_sum" > "$JAVA_DIR/lib/gearman-java/.gearcheck-stamp"
fi
classes_sum="$( { javac -version 2>&1; stamp_of "$JAVA_DIR/pom.xml" "$JAVA_DIR"/src/gearcheck/*.java; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$JAVA_DIR/classes/.gearcheck-stamp" 2>/dev/null)" != "$classes_sum" ]; then
  echo "compiling the Java drivers into $JAVA_DIR/classes" >&2
  rm -rf "$JAVA_DIR/classes"
  javac -nowarn -d "$JAVA_DIR/classes" -cp "$JAVA_DIR/lib/gearman-java/*" "$JAVA_DIR"/src/gearcheck/*.java
  echo "$classes_sum" > "$JAVA_DIR/classes/.gearcheck-stamp"
fi
