# shellcheck shell=bash
# Helpers shared by infra/dev.sh and infra/test.sh. Source, don't run.
#
# Every service is started in its own session (setsid), so its whole process
# tree (cargo-lambda watch -> cargo run -> function) can be stopped through
# its process-group id, and only what this script started is ever stopped.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
LOOPBACK=127.0.0.1

# Fake credentials and a fixed region: nothing here may reach real AWS.
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
# No shared config/credentials files: only the fake values above count.
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null

STARTED_PGIDS=()

log() { printf '\033[1m[%s]\033[0m %s\n' "${LOG_TAG:-infra}" "$*" >&2; }

# start_bg NAME LOGFILE CMD...  -> sets LAST_PID (also the process-group id)
start_bg() {
  local name=$1 logfile=$2
  shift 2
  if [[ -n "$logfile" ]]; then
    setsid "$@" >"$logfile" 2>&1 </dev/null &
  else
    setsid "$@" </dev/null &
  fi
  LAST_PID=$!
  STARTED_PGIDS+=("$LAST_PID")
  log "started $name (pid $LAST_PID)${logfile:+, log $logfile}"
}

stop_all() {
  local pgid
  for pgid in "${STARTED_PGIDS[@]:-}"; do
    [[ -n "$pgid" ]] || continue
    kill -TERM -- "-$pgid" 2>/dev/null || true
  done
  for pgid in "${STARTED_PGIDS[@]:-}"; do
    [[ -n "$pgid" ]] || continue
    for _ in $(seq 1 50); do
      kill -0 -- "-$pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
  STARTED_PGIDS=()
}

# port_free PORT -> fails when something already listens on 127.0.0.1:PORT
port_free() {
  ! (exec 3<>"/dev/tcp/$LOOPBACK/$1") 2>/dev/null
}

require_free_ports() {
  local p
  for p in "$@"; do
    if ! port_free "$p"; then
      log "port $p on $LOOPBACK is already in use (another dev/test stack?)"
      return 1
    fi
  done
}

# wait_http URL TIMEOUT_SECONDS PID -> any HTTP answer counts as up
wait_http() {
  local url=$1 timeout=$2 pid=${3:-} deadline code
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    if [[ "$code" != "000" && -n "$code" ]]; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited while waiting for $url"
      return 1
    fi
    sleep 0.3
  done
  log "timed out after ${timeout}s waiting for $url"
  return 1
}

# wait_tcp PORT TIMEOUT_SECONDS PID -> something listens on 127.0.0.1:PORT
wait_tcp() {
  local port=$1 timeout=$2 pid=${3:-} deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! port_free "$port"; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited while waiting for port $port"
      return 1
    fi
    sleep 0.3
  done
  log "timed out after ${timeout}s waiting for port $port"
  return 1
}

# start_moto PORT LOGFILE
start_moto() {
  local port=$1 logfile=$2
  start_bg "moto :$port" "$logfile" "$PY" "$ROOT/infra/moto_server.py" "$port" --quiet
  local pid=$LAST_PID
  "$PY" "$ROOT/infra/moto_server.py" --wait "$port" 60 || {
    kill -0 "$pid" 2>/dev/null || log "moto exited; see $logfile"
    return 1
  }
}

# setup_stack ENDPOINT TABLE SECRET ENVFILE -> creates resources, exports
# TABLE_NAME and SIGNING_SECRET_ARN
setup_stack() {
  local endpoint=$1 table=$2 secret=$3 envfile=$4
  "$PY" "$ROOT/infra/setup_local.py" --endpoint "$endpoint" \
    --table-name "$table" --secret-name "$secret" --env-file "$envfile" >/dev/null
  set -a
  # shellcheck disable=SC1090
  source "$envfile"
  set +a
}

# export_function_env: the variables template.yaml gives the functions,
# with the template's parameter defaults (overridable from the environment).
export_function_env() {
  export JWT_ISSUER="${JWT_ISSUER:-capecontrol-auth}"
  export JWT_AUDIENCE="${JWT_AUDIENCE:-capecontrol-api}"
  export ACCESS_TOKEN_TTL_SECONDS="${ACCESS_TOKEN_TTL_SECONDS:-900}"
  export REFRESH_IDLE_TTL_SECONDS="${REFRESH_IDLE_TTL_SECONDS:-2592000}"
  export REFRESH_ABSOLUTE_TTL_SECONDS="${REFRESH_ABSOLUTE_TTL_SECONDS:-7776000}"
  export REFRESH_GRACE_SECONDS="${REFRESH_GRACE_SECONDS:-10}"
  export AUDIT_RETENTION_DAYS="${AUDIT_RETENTION_DAYS:-365}"
  export FINANCIAL_RETENTION_DAYS="${FINANCIAL_RETENTION_DAYS:-2557}"
  export MAIL_SENDER="${MAIL_SENDER:-no-reply@capecontrol.example}"
  export LINK_BASE_URL="${LINK_BASE_URL:-https://app.capecontrol.example}"
  export VERIFY_TOKEN_TTL_SECONDS="${VERIFY_TOKEN_TTL_SECONDS:-86400}"
  export RESET_TOKEN_TTL_SECONDS="${RESET_TOKEN_TTL_SECONDS:-1800}"
  export ENUMERATION_SAFE_REGISTRATION="${ENUMERATION_SAFE_REGISTRATION:-true}"
  export ALLOW_UNVERIFIED_LOGIN="${ALLOW_UNVERIFIED_LOGIN:-true}"
  export LOGIN_THROTTLE_FREE_FAILURES="${LOGIN_THROTTLE_FREE_FAILURES:-5}"
  export LOGIN_THROTTLE_BASE_SECONDS="${LOGIN_THROTTLE_BASE_SECONDS:-60}"
  export LOGIN_THROTTLE_MAX_SECONDS="${LOGIN_THROTTLE_MAX_SECONDS:-900}"
  export LOGIN_LOCKOUT_FAILURES="${LOGIN_LOCKOUT_FAILURES:-100}"
  export LOGIN_FAILURE_MEMORY_SECONDS="${LOGIN_FAILURE_MEMORY_SECONDS:-2592000}"
  export RATE_LIMIT_EMAIL_MAX="${RATE_LIMIT_EMAIL_MAX:-3}"
  export RATE_LIMIT_EMAIL_WINDOW_SECONDS="${RATE_LIMIT_EMAIL_WINDOW_SECONDS:-900}"
  export RATE_LIMIT_IP_MAX="${RATE_LIMIT_IP_MAX:-100}"
  export RATE_LIMIT_IP_WINDOW_SECONDS="${RATE_LIMIT_IP_WINDOW_SECONDS:-3600}"
  export RUST_LOG="${RUST_LOG:-info}"
  # As template.yaml: argon2's blocks go back to the OS (README, "Performance").
  export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
  # As template.yaml: one CA bundle file (Debian's path here, when it exists).
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
  fi
}

# start_watch INVOKE_PORT LOGFILE EXTRA_ARGS...
start_watch() {
  local port=$1 logfile=$2
  shift 2
  # RUST_LOG goes to the functions only (--env-var): cargo-lambda reads it
  # too, and at info it dumps its whole configuration on shutdown.
  start_bg "cargo-lambda watch :$port" "$logfile" \
    env -u RUST_LOG "$VENV/bin/cargo-lambda" lambda watch \
    --invoke-address 127.0.0.1 --invoke-port "$port" \
    --concurrency "${WATCH_CONCURRENCY:-4}" --disable-cors \
    --env-var "RUST_LOG=${RUST_LOG:-info}" "$@"
  WATCH_PID=$LAST_PID
  # TCP, not HTTP: a request to / would log a (harmless) error in watch.
  wait_tcp "$port" 120 "$WATCH_PID"
}

# start_router PORT UPSTREAM_PORT LOGFILE
start_router() {
  local port=$1 upstream=$2 logfile=$3
  start_bg "router :$port" "$logfile" "$PY" "$ROOT/infra/router.py" \
    --port "$port" --upstream "http://$LOOPBACK:$upstream"
  wait_http "http://$LOOPBACK:$port/_local/routes" 30 "$LAST_PID"
}

# write_env_file PATH: the stack's environment as KEY=VALUE lines, for
# `set -a; source PATH; set +a` in another shell (or cargo test by hand).
write_env_file() {
  local v
  {
    for v in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
      AWS_DEFAULT_REGION AWS_EC2_METADATA_DISABLED AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
      TABLE_NAME SIGNING_SECRET_ARN JWT_ISSUER JWT_AUDIENCE ACCESS_TOKEN_TTL_SECONDS \
      REFRESH_IDLE_TTL_SECONDS REFRESH_ABSOLUTE_TTL_SECONDS REFRESH_GRACE_SECONDS \
      AUDIT_RETENTION_DAYS FINANCIAL_RETENTION_DAYS MAIL_SENDER LINK_BASE_URL \
      VERIFY_TOKEN_TTL_SECONDS \
      RESET_TOKEN_TTL_SECONDS ENUMERATION_SAFE_REGISTRATION ALLOW_UNVERIFIED_LOGIN \
      LOGIN_THROTTLE_FREE_FAILURES LOGIN_THROTTLE_BASE_SECONDS LOGIN_THROTTLE_MAX_SECONDS \
      LOGIN_LOCKOUT_FAILURES LOGIN_FAILURE_MEMORY_SECONDS RATE_LIMIT_EMAIL_MAX \
      RATE_LIMIT_EMAIL_WINDOW_SECONDS RATE_LIMIT_IP_MAX RATE_LIMIT_IP_WINDOW_SECONDS \
      RUST_LOG MALLOC_MMAP_THRESHOLD_ SSL_CERT_FILE TABLE_DEFINITION_FILE CAPECONTROL_API_URL; do
      if [[ -n "${!v:-}" ]]; then printf '%s=%q\n' "$v" "${!v}"; fi
    done
  } >"$1"
}
