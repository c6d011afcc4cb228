#!/usr/bin/env bash
# The first admin (admins are never self-assigned):
#
#   make admin EMAIL=ops@example.com PASSWORD=...                  local: the `make dev` stack
#   make admin EMAIL=... PASSWORD=... TABLE=<name> REGION=<region>  a deployed stack
#
# Locally the table and emulator come from target/dev/env (written by `make dev`). For a
# deployed stack the AWS credentials are the operator's own (profile, SSO or role): the fake
# test credentials that the Makefile exports and any endpoint override are removed first.
# The password reaches the tool in its environment, never on its command line.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
USAGE="usage: make admin EMAIL=... PASSWORD=... [TABLE=... REGION=...]"
: "${EMAIL:?$USAGE}"
: "${PASSWORD:?$USAGE}"

cargo build --quiet -p capecontrol-admin
BIN="$ROOT/target/debug/capecontrol-admin"

if [[ -n "${TABLE:-}" ]]; then
  : "${REGION:?a deployed stack needs REGION as well as TABLE}"
  exec env -u AWS_ENDPOINT_URL -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    -u AWS_EC2_METADATA_DISABLED ADMIN_PASSWORD="$PASSWORD" \
    "$BIN" --table "$TABLE" --region "$REGION" --email "$EMAIL"
fi

ENV_FILE="$ROOT/target/dev/env"
if [[ ! -f "$ENV_FILE" ]]; then
  echo "admin: no local stack ($ENV_FILE missing); start \`make dev\`, or give TABLE and REGION" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1090
source "$ENV_FILE"
set +a
exec env ADMIN_PASSWORD="$PASSWORD" \
  "$BIN" --table "$TABLE_NAME" --region "$AWS_REGION" --email "$EMAIL"
