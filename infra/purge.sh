#!/usr/bin/env bash
# One run of the scheduled purge (functions/purge) against the running `make dev` stack:
# finishes every account deletion whose request left part of the erasure to the schedule.
#
#   make purge
#
# The table and emulator come from target/dev/env (written by `make dev`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

ENV_FILE="$ROOT/target/dev/env"
if [[ ! -f "$ENV_FILE" ]]; then
  echo "purge: no local stack ($ENV_FILE missing); start \`make dev\` first" >&2
  exit 1
fi
cargo build --quiet -p purge --bin purge-once
set -a
# shellcheck disable=SC1090
source "$ENV_FILE"
set +a
exec "$ROOT/target/debug/purge-once"
