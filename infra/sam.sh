#!/usr/bin/env bash
# Run the project's pinned SAM CLI (.venv-sam) offline-friendly:
# fake credentials, telemetry off, and a project-local SAM config dir whose
# last-version-check stamp is in the future, so SAM never phones home.
# cargo-lambda (for `sam build`) comes from .venv.
#
#   infra/sam.sh validate --lint
#   infra/sam.sh build --parameter-overrides Architecture=x86_64
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN
export SAM_CLI_TELEMETRY=0

app_dir="$ROOT/target/sam-cli-home"
mkdir -p "$app_dir"
if [[ ! -f "$app_dir/metadata.json" ]]; then
  printf '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}\n' >"$app_dir/metadata.json"
fi
export __SAM_CLI_APP_DIR="$app_dir"
export PATH="$ROOT/.venv/bin:$PATH"

exec "$ROOT/.venv-sam/bin/sam" "$@"
