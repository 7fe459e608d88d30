#!/usr/bin/env bash
# `make dev`: installs what is missing, starts DynamoDB Local (127.0.0.1:8000) and moto
# (127.0.0.1:5000), creates the table and the SES sender identity, and serves the whole API
# on http://127.0.0.1:3000 with the deployed paths. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

DDB_PORT=8000
MOTO_PORT=5000
API_PORT=3000

bash scripts/tools.sh
source scripts/stack.sh
trap stack_stop EXIT
trap 'exit 130' INT TERM
export PATH="$CARGO_LAMBDA_BIN_DIR:$PATH"

require_free_port "$DDB_PORT" "DynamoDB Local"
require_free_port "$MOTO_PORT" "moto"
require_free_port "$API_PORT" "the local API"

export_stack_env "$DDB_PORT" "$MOTO_PORT" "$API_PORT"
cargo build --workspace --bins
use_auth_secret .local/auth-secret.json
start_dynamodb "$DDB_PORT"
start_moto "$MOTO_PORT"
cargo run --quiet -p auth-tools --bin local-setup

cat <<MSG

  API            $API_URL   (routes: README.md; JWKS at /.well-known/jwks.json)
  Sent mail/SMS  http://127.0.0.1:$MOTO_PORT/moto-api/data.json   (ses.Message, sns.SMS)
  DynamoDB Local http://127.0.0.1:$DDB_PORT   table $TABLE_NAME
  Server logs    $STACK_LOG_DIR

  Ctrl-C stops everything.

MSG

# In the foreground: functions are rebuilt when their code changes.
cargo lambda watch -P "$API_PORT" -A 127.0.0.1 --concurrency 8
