#!/usr/bin/env bash
# Benchmarks that print figures (no assertions on time). Release build, on an emulator of its
# own (BENCH_MOTO_PORT, default 5300), everything on 127.0.0.1:
#
#   infra/bench.sh all      what `make bench` prints: binary sizes, cold starts of every
#                           function of template.yaml beside two floors (Runtime API stand-in
#                           on BENCH_RUNTIME_PORT, default 5310), login's peak memory over 50
#                           logins, DynamoDB round trips (counting proxy on BENCH_PROXY_PORT,
#                           default 5311) and capacity units per operation, argon2id beside the
#                           reference C implementation (installs Debian's argon2 when missing),
#                           JWT sign and verify
#   infra/bench.sh timing   medians of reset requests (existing vs unknown address) and of
#                           logins (unknown email vs wrong password)
#
# BENCH_ROUNDS (default 20) cold starts per binary; BENCH_LOGINS (default 50) for the memory.
set -euo pipefail

LOG_TAG=bench
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

STAGE="${1:-all}"
BENCH_MOTO_PORT="${BENCH_MOTO_PORT:-5300}"
BENCH_RUNTIME_PORT="${BENCH_RUNTIME_PORT:-5310}"
BENCH_PROXY_PORT="${BENCH_PROXY_PORT:-5311}"
BENCH_ROUNDS="${BENCH_ROUNDS:-20}"
BENCH_LOGINS="${BENCH_LOGINS:-50}"
STATE="$ROOT/target/bench"
BIN_DIR="$ROOT/target/release"
FLOORS=(floor_hello floor_sdk)
mkdir -p "$STATE"
trap 'stop_all' EXIT

export TABLE_DEFINITION_FILE="$ROOT/target/table-definition.json"
"$PY" infra/table_definition.py --out "$TABLE_DEFINITION_FILE"

# The function binaries of template.yaml, one per line.
functions() {
  "$PY" infra/bench_cold.py --list | cut -d' ' -f1
}

# Functions and the bench's own binaries in two builds: one build of both would unify the
# features of the test kit into the functions' dependencies.
build() {
  local packages=() name
  for name in $("$PY" infra/bench_cold.py --packages); do packages+=(-p "$name"); done
  log "cargo build --release ${packages[*]} (the first build takes many minutes)"
  cargo build --release "${packages[@]}" --bins
  local args=()
  for name in "${FLOORS[@]}" bench_figures; do args+=(--bin "$name"); done
  cargo build --release -p capecontrol-tests "${args[@]}"
}

sizes() {
  local name
  printf 'binary sizes (release profile, stripped, %s)\n' "$(uname -m)"
  for name in $(functions) "${FLOORS[@]}"; do
    printf '  %-14s %6.2f MB\n' "$name" "$(stat -c %s "$BIN_DIR/$name" | awk '{print $1 / 1e6}')"
  done
}

ensure_argon2() {
  command -v argon2 >/dev/null && return
  log "installing Debian's argon2 (the reference C implementation)"
  if ! apt-get install -y argon2 >/dev/null; then
    apt-get update >/dev/null
    apt-get install -y argon2 >/dev/null
  fi
}

all() {
  require_free_ports "$BENCH_MOTO_PORT" "$BENCH_RUNTIME_PORT" "$BENCH_PROXY_PORT"
  ensure_argon2
  build
  sizes
  start_moto "$BENCH_MOTO_PORT" "$STATE/moto.log"
  local emulator="http://$LOOPBACK:$BENCH_MOTO_PORT"
  setup_stack "$emulator" capecontrol-auth-bench capecontrol-auth-bench-key "$STATE/stack.env"
  export_function_env
  export AWS_ENDPOINT_URL="$emulator"
  echo
  "$PY" infra/bench_cold.py --bin-dir "$BIN_DIR" --port "$BENCH_RUNTIME_PORT" \
    --rounds "$BENCH_ROUNDS"
  "$PY" infra/bench_cold.py --bin-dir "$BIN_DIR" --port "$BENCH_RUNTIME_PORT" \
    --memory "$BENCH_LOGINS"
  echo
  start_bg "count proxy :$BENCH_PROXY_PORT" "$STATE/proxy.log" "$PY" infra/count_proxy.py \
    --port "$BENCH_PROXY_PORT" --upstream "$emulator"
  wait_tcp "$BENCH_PROXY_PORT" 30 "$LAST_PID"
  AWS_ENDPOINT_URL="http://$LOOPBACK:$BENCH_PROXY_PORT" "$BIN_DIR/bench_figures" costs
  echo
  "$BIN_DIR/bench_figures" crypto
}

timing() {
  require_free_ports "$BENCH_MOTO_PORT"
  start_moto "$BENCH_MOTO_PORT" "$STATE/moto.log"
  export AWS_ENDPOINT_URL="http://$LOOPBACK:$BENCH_MOTO_PORT"
  log "enumeration timing (release build; the first run compiles for a few minutes)"
  cargo run --quiet --release -p capecontrol-tests --bin enumeration_timing
}

case "$STAGE" in
  all) all ;;
  timing) timing ;;
  *) echo "usage: $0 [all|timing]" >&2; exit 2 ;;
esac
