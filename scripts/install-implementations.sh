#!/usr/bin/env bash
# Installs the Gearman job servers that come from public registries (not Debian), at
# pinned versions, into a cache folder of the project's, so tests and `make matrix`
# start them without downloading or building anything:
#
#   rustygeard 0.15.0   crates.io, `cargo install --locked --features tls`
#   g2 (appscode)       Go module proxy, built from fixtures/servers/go (go.mod/go.sum pin it)
#   abraxas 2.1.10      npm, `npm ci` in fixtures/servers/abraxas (package-lock.json pins it)
#
# The cache is $GEARCHECK_CACHE (default ~/.cache/gearcheck)/implementations; the
# target classes in gearcheck/targets/ look there (gearcheck/targets/_implementations.py).
# Idempotent: each install writes a stamp recording what was installed; nothing is
# redone while the stamp matches. Implementations searched for and not installable
# here are listed, with the exact error, in docs/implementations.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${GEARCHECK_CACHE:-$HOME/.cache/gearcheck}/implementations"
mkdir -p "$CACHE"

RUSTYGEARD_VERSION=0.15.0
G2_VERSION=v0.0.0-20190123131438-388ba74fd273

stamp_ok() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
took() { echo "  ($(( $(date +%s) - $1 )) s)" >&2; }

# --- rustygeard (Rust) ---------------------------------------------------
dir="$CACHE/rustygeard-$RUSTYGEARD_VERSION"
want="rustygeard $RUSTYGEARD_VERSION features=tls locked"
if ! stamp_ok "$dir/.gearcheck-stamp" "$want" || [ ! -x "$dir/bin/rustygeard" ]; then
  command -v cargo >/dev/null || { echo "install-implementations: cargo is not installed" >&2; exit 2; }
  echo "building rustygeard $RUSTYGEARD_VERSION (cargo install, a few minutes once)" >&2
  t0=$(date +%s)
  rm -rf "$dir"
  cargo install --quiet --locked --features tls --version "$RUSTYGEARD_VERSION" \
    --root "$dir" rustygeard
  echo "$want" > "$dir/.gearcheck-stamp"
  took "$t0"
fi

# --- g2 (Go) --------------------------------------------------------------
GO_DIR="$ROOT/fixtures/servers/go"
sum="$(cat "$GO_DIR/go.mod" "$GO_DIR/go.sum" | sha256sum | cut -d' ' -f1)"
dir="$CACHE/g2-$G2_VERSION"
if ! stamp_ok "$dir/.gearcheck-stamp" "$sum" || [ ! -x "$dir/bin/g2-gearmand" ]; then
  command -v go >/dev/null || { echo "install-implementations: go is not installed" >&2; exit 2; }
  echo "building appscode/g2 $G2_VERSION (go build)" >&2
  t0=$(date +%s)
  mkdir -p "$dir/bin"
  (cd "$GO_DIR" && GOFLAGS=-mod=readonly go build -buildvcs=false \
     -o "$dir/bin/g2-gearmand" github.com/appscode/g2/cmd/gearmand)
  echo "$sum" > "$dir/.gearcheck-stamp"
  took "$t0"
fi

# --- abraxas (Node) ---------------------------------------------------------
NODE_DIR="$ROOT/fixtures/servers/abraxas"
lock_sum="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if ! stamp_ok "$NODE_DIR/node_modules/.gearcheck-stamp" "$lock_sum"; then
  command -v npm >/dev/null || { echo "install-implementations: npm is not installed" >&2; exit 2; }
  echo "installing the abraxas server (npm ci) in $NODE_DIR" >&2
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$NODE_DIR/node_modules/.gearcheck-stamp"
fi
