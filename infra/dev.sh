#!/usr/bin/env bash
# Local development stack: moto + cargo-lambda watch (hot reload) + router.
#
#   make dev            (or: infra/dev.sh)
#
# Ports (all on 127.0.0.1, overridable from the environment):
#   MOTO_PORT=5000   moto (DynamoDB, Secrets Manager, SES)
#   DEV_PORT=9000    the API: the template's routes, e.g. POST /auth/login
#   WATCH_PORT=9001  cargo-lambda watch (/lambda-url/<binary>/...)
# Ctrl-C stops everything this script started.
set -euo pipefail

LOG_TAG="dev"
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

MOTO_PORT="${MOTO_PORT:-5000}"
DEV_PORT="${DEV_PORT:-9000}"
WATCH_PORT="${WATCH_PORT:-9001}"
DEV_TABLE="${DEV_TABLE:-capecontrol-auth}"
DEV_SECRET="${DEV_SECRET:-capecontrol-auth-signing-key}"
STATE="$ROOT/target/dev"
mkdir -p "$STATE"

trap 'trap - EXIT INT TERM; log "stopping"; stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

require_free_ports "$MOTO_PORT" "$DEV_PORT" "$WATCH_PORT"

start_moto "$MOTO_PORT" "$STATE/moto.log"
export AWS_ENDPOINT_URL="http://$LOOPBACK:$MOTO_PORT"

"$PY" infra/table_definition.py --out target/table-definition.json
setup_stack "$AWS_ENDPOINT_URL" "$DEV_TABLE" "$DEV_SECRET" "$STATE/stack.env"
export_function_env
write_env_file "$STATE/env"

# cargo-lambda watch's own output (build errors, function logs) goes to the
# terminal: that is what a developer wants to see.
# Build once before watch starts: otherwise each of the four instances per function compiles
# on its first request, all at once (minutes on a fresh checkout).
log "building the functions (the first run compiles the workspace: a few minutes)"
cargo build --workspace --bins
start_watch "$WATCH_PORT" ""
start_router "$DEV_PORT" "$WATCH_PORT" "$STATE/router.log"

cat >&2 <<EOF

  CapeControl Auth local stack is up
    API          http://$LOOPBACK:$DEV_PORT   (routes: GET http://$LOOPBACK:$DEV_PORT/_local/routes)
    functions    http://$LOOPBACK:$WATCH_PORT/lambda-url/<binary>/... (binaries: make routes)
    moto         $AWS_ENDPOINT_URL   (log: $STATE/moto.log)
    table        $TABLE_NAME
    secret       $SIGNING_SECRET_ARN

  Functions are built; cargo-lambda watch rebuilds and reloads them on change.
  The emulator keeps everything in memory: stopping the stack forgets all data.
  Try:
    curl -s -X POST http://$LOOPBACK:$DEV_PORT/auth/register \\
      -H 'content-type: application/json' \\
      -d '{"email":"ann@example.com","password":"violet anchor drifts past 9 moons",
           "role":"developer","accept_terms":true,"accept_privacy":true}'
    curl -s -X POST http://$LOOPBACK:$DEV_PORT/auth/login \\
      -H 'content-type: application/json' \\
      -d '{"email":"ann@example.com","password":"violet anchor drifts past 9 moons"}'

  Same env in another shell:  set -a; source $STATE/env; set +a
  Ctrl-C to stop.

EOF

# Stay up until Ctrl-C or until a service dies.
while true; do
  for pid in "${STARTED_PGIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "service pid $pid exited; stopping the stack"
      exit 1
    fi
  done
  sleep 1
done
