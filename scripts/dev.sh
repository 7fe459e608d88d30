#!/usr/bin/env bash
# `make dev`: installs what is missing, starts DynamoDB Local (127.0.0.1:8000) and moto
# (127.0.0.1:5000), creates the table, the SES sender identity, the user-events topic and the
# SocialService and BlogService queues subscribed to it, runs a local OpenID provider on
# http://127.0.0.1:5556 (tools/oidc-provider, the provider named `local`: any login name signs
# in), serves the whole API on http://127.0.0.1:3000 with the deployed paths, and runs the
# event pipeline (the table's stream fed to user-events, the sweeper on its schedule), and
# serves the reference web app on http://localhost:5173 (the mailed links open it; a name, not
# an IP: browsers refuse passkeys on an IP-address origin). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

DDB_PORT=8000
MOTO_PORT=5000
API_PORT=3000
WEB_PORT=5173
OIDC_PORT=5556

bash scripts/tools.sh
source scripts/stack.sh
trap stack_stop EXIT
trap 'exit 130' INT TERM
export PATH="$CARGO_LAMBDA_BIN_DIR:$PATH"

require_free_port "$DDB_PORT" "DynamoDB Local"
require_free_port "$MOTO_PORT" "moto"
require_free_port "$API_PORT" "the local API"
require_free_port "$WEB_PORT" "the web app"
require_free_port "$OIDC_PORT" "the local OpenID provider"

export_stack_env "$DDB_PORT" "$MOTO_PORT" "$API_PORT"
cargo build --workspace --bins
use_auth_secret .local/auth-secret.json
start_dynamodb "$DDB_PORT"
start_moto "$MOTO_PORT"
start_oidc_provider "$OIDC_PORT"
export_oauth_env "http://localhost:$WEB_PORT/signin,http://localhost:$WEB_PORT/account"
cargo run --quiet -p auth-tools --bin local-setup

# Functions are rebuilt when their code changes.
start_bg api cargo lambda watch -P "$API_PORT" -A 127.0.0.1 --concurrency 8
API_PID=$LAST_PID
wait_for_port "$API_PORT" api "$API_PID" 120
start_events "$API_URL"
EVENTS_PID=$LAST_PID
# The web app runs on the TypeScript client's build, and draws QR codes with its one package.
npm ci --prefix web --no-audit --no-fund --loglevel=error >"$STACK_LOG_DIR/npm-client.log" 2>&1 &&
  npm ci --prefix clients/typescript --no-audit --no-fund --loglevel=error >>"$STACK_LOG_DIR/npm-client.log" 2>&1 &&
  npm run --prefix clients/typescript --silent build >>"$STACK_LOG_DIR/npm-client.log" 2>&1 || {
  cat "$STACK_LOG_DIR/npm-client.log" >&2
  stack_log "could not build the TypeScript client (clients/typescript)"
  exit 1
}
start_bg web node web/serve.mjs "$WEB_PORT" 127.0.0.1
wait_for_port "$WEB_PORT" web "$LAST_PID" 30

cat <<MSG

  Web app        http://localhost:$WEB_PORT   (sign up, confirm, sign in, reset, sessions)
  API            $API_URL   (routes: README.md; JWKS at /.well-known/jwks.json)
  API document   $(pwd)/openapi/openapi.yaml   (OpenAPI 3.1; servers: $API_URL)
  Sent mail/SMS  http://127.0.0.1:$MOTO_PORT/moto-api/data.json   (ses.Message, sns.SMS)
  User events    SocialService queue: http://127.0.0.1:$MOTO_PORT/123456789012/social-service-user-events
                 BlogService queue:   http://127.0.0.1:$MOTO_PORT/123456789012/blog-service-user-events
                 read (and empty) one: bash scripts/queue.sh social-service-user-events
                 their stand-ins answer each new user (GET /me's provisioning); start with
                 LOCAL_SILENT_SERVICES=blog or LOCAL_FAILING_SERVICES=blog to see the lag alarm's path
  DynamoDB Local http://127.0.0.1:$DDB_PORT   table $TABLE_NAME
  Local OpenID provider $LOCAL_OIDC_ISSUER   (any login name; password anything; the login "deny" refuses)
  Operators      in another shell: export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \\
                   AWS_ENDPOINT_URL_LAMBDA=$API_URL AWS_ENDPOINT_URL_STS=http://127.0.0.1:$MOTO_PORT
                 then: cargo run -q -p authctl -- user list   (README.md, "Operating")
  Server logs    $STACK_LOG_DIR   (api.log, events.log, dynamodb.log, moto.log, oidc-provider.log)

  Ctrl-C stops everything.

MSG

# The function logs in the foreground until Ctrl-C, or until the API or the pipeline stops.
tail -n +1 -F "$STACK_LOG_DIR/api.log" "$STACK_LOG_DIR/events.log" &
STACK_PIDS+=("$!")
wait -n "$API_PID" "$EVENTS_PID"
stack_log "the API or the event pipeline stopped; stopping everything"
