#!/usr/bin/env bash
# Benchmarks that print figures (no assertions on time):
#   infra/bench.sh timing   medians of reset requests (existing vs unknown address) and of
#                           logins (unknown email vs wrong password), release build, on an
#                           emulator of its own (BENCH_MOTO_PORT, default 5300).
set -euo pipefail

LOG_TAG=bench
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

BENCH_MOTO_PORT="${BENCH_MOTO_PORT:-5300}"
STATE="$ROOT/target/bench"
mkdir -p "$STATE"
trap 'stop_all' EXIT

require_free_ports "$BENCH_MOTO_PORT"
export TABLE_DEFINITION_FILE="$ROOT/target/table-definition.json"
"$PY" infra/table_definition.py --out "$TABLE_DEFINITION_FILE"
start_moto "$BENCH_MOTO_PORT" "$STATE/moto.log"
export AWS_ENDPOINT_URL="http://$LOOPBACK:$BENCH_MOTO_PORT"
log "enumeration timing (release build; the first run compiles for a few minutes)"
cargo run --quiet --release -p capecontrol-tests --bin enumeration_timing
