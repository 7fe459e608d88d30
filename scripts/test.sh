#!/usr/bin/env bash
# `make test`: installs what is missing, checks formatting, lints and the SAM template, starts
# DynamoDB Local, moto, a local OpenID provider (tools/oidc-provider), the API (cargo lambda
# watch) and the event pipeline (local-events) on free loopback ports, runs every test (unit,
# integration, end to end, client, browser, API document, then the fault tests that pause
# DynamoDB Local and moto), and stops what it started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "tools"
bash scripts/tools.sh
source scripts/stack.sh
trap stack_stop EXIT
trap 'exit 130' INT TERM
export PATH="$CARGO_LAMBDA_BIN_DIR:$PATH"

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "template"
"$SAM_BIN" validate --lint --region us-east-1

step "build"
cargo build --workspace --all-targets

step "local stack"
DDB_PORT=$(free_port)
MOTO_PORT=$(free_port)
API_PORT=$(free_port)
WEB_PORT=$(free_port)
OIDC_PORT=$(free_port)
# The web app is opened on localhost: browsers refuse WebAuthn on an IP-address origin.
export WEB_URL="http://localhost:$WEB_PORT"
# Mailed links open the reference web app that this run serves.
export CONFIRM_URL="$WEB_URL/confirm#code={code}&email={email}" RESET_URL="$WEB_URL/reset#code={code}"
export IDENTIFIER_CHANGE_URL="$WEB_URL/me/identifier#code={code}"
# The API and the event pipeline use one table; the integration tests, which drive the
# stream consumer and the sweeper themselves with a clock they move, use another, so the
# running pipeline cannot publish behind their backs.
export TABLE_NAME="auth-test"
# A user unacknowledged for 3 s counts in the sweeper's lag figures (the lag test waits that).
export PROVISIONING_LAG_SECS=3
INTEGRATION_TABLE="auth-integration"
export_stack_env "$DDB_PORT" "$MOTO_PORT" "$API_PORT"
use_auth_secret "$STACK_LOG_DIR/auth-secret.json"
start_dynamodb "$DDB_PORT"
export DDB_PID="$LAST_PID"
start_moto "$MOTO_PORT"
export MOTO_PID="$LAST_PID"
# The provider `local` (tools/oidc-provider), back to $API_URL/oauth/local/callback; the web
# app's sign-in and account pages are the frontend pages a sign-in may return to.
start_oidc_provider "$OIDC_PORT"
export_oauth_env "$WEB_URL/signin,$WEB_URL/account"
cargo run --quiet -p auth-tools --bin local-setup
TABLE_NAME="$INTEGRATION_TABLE" cargo run --quiet -p auth-tools --bin local-setup >/dev/null
# Functions inherit this environment. --ignore-changes: the tests must not race a rebuild.
start_bg api cargo lambda watch -P "$API_PORT" -A 127.0.0.1 --ignore-changes --concurrency 8
wait_for_port "$API_PORT" api "$LAST_PID" 60
stack_log "API on $API_URL (pid $LAST_PID); logs in $STACK_LOG_DIR"
# Start every function once (the workspace is built, so this only spawns processes).
for function in $(sed -n 's/.*function = "\([^"]*\)".*/\1/p' Cargo.toml | sort -u); do
  curl -s -o /dev/null --max-time 120 -X POST "$API_URL/lambda-url/$function/" \
    -H 'content-type: application/json' -d '{}' || true
done

start_events "$API_URL"

step "benchmark harness smoke run (timings are not asserted)"
"${CARGO_TARGET_DIR:-target}/debug/auth-bench" lambda "${CARGO_TARGET_DIR:-target}/debug" 10 >"$STACK_LOG_DIR/bench-smoke.txt"
tail -n 12 "$STACK_LOG_DIR/bench-smoke.txt" >&2

step "tests"
status=0
# Many threads: several end-to-end tests wait out a real one-minute send limit side by side.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-8}"
TABLE_NAME="$INTEGRATION_TABLE" cargo test --workspace --lib --bins --test integration 2>&1 |
  tee "$STACK_LOG_DIR/tests.log" || status=$?
cargo test -p auth-tests --test e2e 2>&1 | tee -a "$STACK_LOG_DIR/tests.log" || status=$?
# A real OAuth client library (oauth4webapi) against the token and revocation endpoints.
npm ci --prefix tests/oauth --no-audit --no-fund --loglevel=error >"$STACK_LOG_DIR/npm-oauth.log" 2>&1 || {
  cat "$STACK_LOG_DIR/npm-oauth.log" >&2
  echo "tests: FAILED to install the OAuth client tests' packages (npm ci in tests/oauth)" >&2
  exit 1
}
node --test tests/oauth/ 2>&1 | tee -a "$STACK_LOG_DIR/tests.log" || status=$?
# The TypeScript client: built (its error codes are type-checked against the document), its
# generated types compared with a fresh generation, and its tests run against the API.
npm ci --prefix web --no-audit --no-fund --loglevel=error >"$STACK_LOG_DIR/npm-client.log" 2>&1 &&
  npm ci --prefix clients/typescript --no-audit --no-fund --loglevel=error >>"$STACK_LOG_DIR/npm-client.log" 2>&1 &&
  npm run --prefix clients/typescript --silent build >>"$STACK_LOG_DIR/npm-client.log" 2>&1 || {
  cat "$STACK_LOG_DIR/npm-client.log" >&2
  echo "tests: FAILED to install the web app's package or build the TypeScript client (web, clients/typescript)" >&2
  exit 1
}
node --test clients/typescript/test/ 2>&1 | tee -a "$STACK_LOG_DIR/tests.log" || status=$?
# The reference web app (on the client just built) in headless Chromium.
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >"$STACK_LOG_DIR/npm-browser.log" 2>&1 || {
  cat "$STACK_LOG_DIR/npm-browser.log" >&2
  echo "tests: FAILED to install the browser test's packages (npm ci in tests/browser)" >&2
  exit 1
}
start_bg web node web/serve.mjs "$WEB_PORT" 127.0.0.1
wait_for_port "$WEB_PORT" web "$LAST_PID" 30
export SCREENSHOT_DIR="$STACK_LOG_DIR/screenshots"
node --test tests/browser/ 2>&1 | tee -a "$STACK_LOG_DIR/tests.log" || status=$?
stack_log "browser screenshots in $SCREENSHOT_DIR"
# The API document: validated, then schemathesis against every operation of the local API.
bash scripts/api-check.sh "$STACK_LOG_DIR/schemathesis" 2>&1 | tee "$STACK_LOG_DIR/api-check.log" || status=$?
# Faults last and alone: they pause DynamoDB Local and moto (DDB_PID, MOTO_PID) under bursts.
cargo test -p auth-tests --test faults -- --test-threads 1 2>&1 | tee -a "$STACK_LOG_DIR/tests.log" || status=$?
if [ "$status" -ne 0 ]; then
  stack_log "tests failed; the API log ends with:"
  tail -n 60 "$STACK_LOG_DIR/api.log" >&2 || true
  stack_log "the event pipeline's log ends with:"
  tail -n 20 "$STACK_LOG_DIR/events.log" >&2 || true
fi
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
  /^# pass / { p += $3 } /^# fail / { f += $3 } /^# skipped / { i += $3 } END {
  printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, i
  if (p == 0) { print "no test ran" > "/dev/stderr"; exit 1 }
}' "$STACK_LOG_DIR/tests.log"
exit "$status"
