#!/usr/bin/env bash
# Installs the Gearman client libraries the interop matrix drives, into the
# project's own folders: the PHP extension (Debian packages, through
# install-system-deps.sh), the Node libraries (npm ci from the committed lock
# file into fixtures/clients/node/node_modules) and each Python library in its
# own venv (fixtures/clients/python/venv-<name>; pygearman and others clash on
# the top-level `gearman` package). Idempotent: a stamp file per install
# records what was installed; nothing is redone while it matches.
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
PY_LIBS=(pygearman==0.2.6 python3-gearman==0.1.0 gear==0.16.0)
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
