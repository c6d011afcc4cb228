#!/usr/bin/env bash
# The Rust test stages of `make test` (lint stages run from the Makefile):
#
#   1. cargo test --workspace    against moto on TEST_MOTO_PORT (5100);
#                                tests create their own tables from
#                                TABLE_DEFINITION_FILE.
#   2. cargo test $E2E_TEST_ARGS -- --ignored   (default: -p capecontrol-tests
#                                --test e2e --test e2e_throttle --test e2e_earnings
#                                --test e2e_admin --test e2e_account)
#                                against a full local stack: moto on
#                                E2E_MOTO_PORT (5200) with table
#                                capecontrol-auth-e2e + its secret,
#                                cargo-lambda watch on E2E_WATCH_PORT (9100),
#                                router on E2E_PORT (9101) =
#                                CAPECONTROL_API_URL.
#
#   infra/test.sh [unit|e2e|all]   (default all)
#
# Everything started here is stopped on exit, pass or fail.
set -euo pipefail

LOG_TAG="test"
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

STAGE="${1:-all}"
TEST_MOTO_PORT="${TEST_MOTO_PORT:-5100}"
E2E_MOTO_PORT="${E2E_MOTO_PORT:-5200}"
E2E_WATCH_PORT="${E2E_WATCH_PORT:-9100}"
E2E_PORT="${E2E_PORT:-9101}"
E2E_TABLE="${E2E_TABLE:-capecontrol-auth-e2e}"
E2E_SECRET="${E2E_SECRET:-capecontrol-auth-e2e-signing-key}"
# The end-to-end tests: tests/tests/e2e*.rs of package capecontrol-tests,
# #[ignore]d so that plain `cargo test --workspace` skips them.
E2E_DEFAULT_ARGS="-p capecontrol-tests --test e2e --test e2e_throttle --test e2e_earnings"
E2E_DEFAULT_ARGS+=" --test e2e_admin --test e2e_account"
read -r -a E2E_TEST_ARGS <<<"${E2E_TEST_ARGS:-$E2E_DEFAULT_ARGS}"
STATE="$ROOT/target/test"
mkdir -p "$STATE"

on_exit() {
  local rc=$?
  stop_all
  if ((rc != 0)); then
    log "FAILED (exit $rc); service logs:"
    local f
    for f in "$STATE"/*.log; do
      [[ -s "$f" ]] || continue
      printf '\n--- %s (last 40 lines) ---\n' "$f" >&2
      tail -n 40 "$f" | cut -c1-300 >&2
    done
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

export TABLE_DEFINITION_FILE="$ROOT/target/table-definition.json"
"$PY" infra/table_definition.py --out "$TABLE_DEFINITION_FILE"

unit() {
  require_free_ports "$TEST_MOTO_PORT"
  start_moto "$TEST_MOTO_PORT" "$STATE/moto-unit.log"
  log "cargo test --workspace (AWS_ENDPOINT_URL=http://$LOOPBACK:$TEST_MOTO_PORT)"
  AWS_ENDPOINT_URL="http://$LOOPBACK:$TEST_MOTO_PORT" cargo test --workspace
  stop_all
}

e2e() {
  require_free_ports "$E2E_MOTO_PORT" "$E2E_WATCH_PORT" "$E2E_PORT"
  # Build the functions first: cargo-lambda watch would otherwise compile
  # each one on its first request, inside a test's timeout.
  log "cargo build --workspace --bins"
  cargo build --workspace --bins

  start_moto "$E2E_MOTO_PORT" "$STATE/moto-e2e.log"
  export AWS_ENDPOINT_URL="http://$LOOPBACK:$E2E_MOTO_PORT"
  setup_stack "$AWS_ENDPOINT_URL" "$E2E_TABLE" "$E2E_SECRET" "$STATE/e2e-stack.env"
  # A short grace window, so the replay tests wait seconds, not tens of seconds; long enough
  # that ten concurrent refreshes through the router all land inside it.
  export REFRESH_GRACE_SECONDS="${E2E_REFRESH_GRACE_SECONDS:-4}"
  # Short login waits, so the throttle tests wait seconds, not minutes (the failure thresholds
  # keep their defaults); 2 s, so that twelve concurrent failures all land inside the first.
  # The e2e races send twenty registrations of one address, and every local request comes
  # from 127.0.0.1: limits high enough that the races, not the limiter, decide.
  export RATE_LIMIT_EMAIL_MAX="${E2E_RATE_LIMIT_EMAIL_MAX:-1000}"
  export RATE_LIMIT_IP_MAX="${E2E_RATE_LIMIT_IP_MAX:-100000}"
  export LOGIN_THROTTLE_BASE_SECONDS="${E2E_LOGIN_THROTTLE_BASE_SECONDS:-2}"
  export LOGIN_THROTTLE_MAX_SECONDS="${E2E_LOGIN_THROTTLE_MAX_SECONDS:-4}"
  export_function_env
  start_watch "$E2E_WATCH_PORT" "$STATE/watch-e2e.log" --ignore-changes
  start_router "$E2E_PORT" "$E2E_WATCH_PORT" "$STATE/router-e2e.log"
  export CAPECONTROL_API_URL="http://$LOOPBACK:$E2E_PORT"
  write_env_file "$STATE/e2e.env"

  log "cargo test ${E2E_TEST_ARGS[*]} -- --ignored (CAPECONTROL_API_URL=$CAPECONTROL_API_URL)"
  cargo test "${E2E_TEST_ARGS[@]}" -- --ignored
  stop_all
  unset AWS_ENDPOINT_URL CAPECONTROL_API_URL
}

case "$STAGE" in
  unit) unit ;;
  e2e) e2e ;;
  all) unit; e2e ;;
  *) echo "usage: $0 [unit|e2e|all]" >&2; exit 2 ;;
esac
log "ok"
