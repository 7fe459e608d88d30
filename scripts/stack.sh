# Functions to run the local stack; sourced by dev.sh and test.sh.
# Every server started here is recorded by PID and stopped by `stack_stop` (installed as an
# EXIT trap by the callers), also when a step fails.

STACK_PIDS=()
STACK_LOG_DIR="${STACK_LOG_DIR:-$(mktemp -d -t auth-stack.XXXXXX)}"

# shellcheck source=scripts/tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh" --env

stack_log() { echo "stack: $*" >&2; }

# A loopback port nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_busy() {
  python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$1"
}

# Fails with a clear message when a fixed port is taken (make dev uses fixed ports).
require_free_port() {
  if port_busy "$1"; then
    stack_log "port $1 ($2) is already in use on 127.0.0.1; stop whatever holds it (e.g. \`ss -ltnp 'sport = :$1'\`) and retry"
    return 1
  fi
}

wait_for_port() { # port name pid seconds
  local port="$1" name="$2" pid="$3" limit="${4:-60}" waited=0
  until port_busy "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      stack_log "$name exited during startup; its log:"
      tail -n 40 "$STACK_LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    if [ "$waited" -ge $((limit * 10)) ]; then
      stack_log "$name did not listen on port $port within ${limit}s"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

start_bg() { # name command...
  local name="$1"
  shift
  # Its own process group, so that stopping it also stops what it spawned.
  setsid "$@" >"$STACK_LOG_DIR/$name.log" 2>&1 &
  STACK_PIDS+=("$!")
  LAST_PID=$!
}

start_dynamodb() { # port
  start_bg dynamodb java -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" -jar "$DDB_DIR/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$1"
  wait_for_port "$1" dynamodb "$LAST_PID" 60
  stack_log "DynamoDB Local on http://127.0.0.1:$1 (pid $LAST_PID)"
}

start_moto() { # port
  start_bg moto "$MOTO_BIN" -H 127.0.0.1 -p "$1"
  wait_for_port "$1" moto "$LAST_PID" 60
  stack_log "moto (SES v2, SNS) on http://127.0.0.1:$1 (pid $LAST_PID)"
}

# A real OpenID provider on 127.0.0.1 (tools/oidc-provider: panva's oidc-provider with its
# development login and consent pages), the provider named `local`: any login name signs in.
# Its packages go into tools/oidc-provider/node_modules (npm ci from its lock file). Its one
# client, auth-service-local, may return to LOCAL_OIDC_REDIRECT_URIS (comma-separated), by
# default the API's callback, so export_stack_env comes first.
LOCAL_OIDC_CLIENT_ID=auth-service-local
start_oidc_provider() { # port
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/oidc-provider"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >"$STACK_LOG_DIR/npm-oidc-provider.log" 2>&1 || {
    cat "$STACK_LOG_DIR/npm-oidc-provider.log" >&2
    stack_log "could not install the local OpenID provider's packages (npm ci in $dir)"
    return 1
  }
  export LOCAL_OIDC_CLIENT_SECRET="${LOCAL_OIDC_CLIENT_SECRET:-local-provider-secret}"
  export LOCAL_OIDC_REDIRECT_URIS="${LOCAL_OIDC_REDIRECT_URIS:-${API_URL:?export_stack_env first}/oauth/local/callback}"
  start_bg oidc-provider node "$dir/server.mjs" "$1"
  wait_for_port "$1" oidc-provider "$LAST_PID" 30
  export LOCAL_OIDC_ISSUER="http://127.0.0.1:$1"
  stack_log "local OpenID provider on $LOCAL_OIDC_ISSUER (pid $LAST_PID; client $LOCAL_OIDC_CLIENT_ID back to $LOCAL_OIDC_REDIRECT_URIS)"
}

# The functions' provider configuration: the local provider as `local` (start_oidc_provider
# first), its client secret as the local stand-in for the secret a deployment keeps, and the
# frontend pages a sign-in may return to ($1, comma-separated, matched exactly).
export_oauth_env() { # frontend-redirect-uris
  export OAUTH_PROVIDERS='[{"name":"local","kind":"oidc","issuer":"'"${LOCAL_OIDC_ISSUER:?start_oidc_provider first}"'","client_id":"'"$LOCAL_OIDC_CLIENT_ID"'","scopes":["openid","email","profile"]}]'
  export LOCAL_OAUTH_CLIENT_SECRETS='{"local":{"client_secret":"'"$LOCAL_OIDC_CLIENT_SECRET"'"}}'
  export OAUTH_REDIRECT_URIS="$1"
}

# The environment the functions and the tests share.
export_stack_env() { # ddb_port moto_port api_port
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
  export AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$2"
  export AWS_ENDPOINT_URL_SNS="http://127.0.0.1:$2"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$2"
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$2"
  # The Cognito user pool a deployment may migrate from (moto's, in the tests).
  export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER="http://127.0.0.1:$2"
  export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:$1"
  # authctl: the admin function through cargo lambda watch's Invoke API, and who is asking
  # from moto's STS.
  export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$2"
  export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$3"
  # moto's account id is fixed, so the topic's ARN is known before it exists.
  export USER_EVENTS_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:auth-user-events"
  export USER_EVENTS_REPLAY_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:auth-user-events-replay"
  export MOTO_URL="http://127.0.0.1:$2"
  export API_URL="http://127.0.0.1:$3"
  export ISSUER="$API_URL"
  export TABLE_NAME="${TABLE_NAME:-auth-local}"
  export SENDER_EMAIL="${SENDER_EMAIL:-no-reply@auth.local}"
  # Each default is a variable: a literal {code} inside ${VAR:-...} would end it early.
  local default_confirm_url='http://localhost:5173/confirm#code={code}&email={email}'
  export CONFIRM_URL="${CONFIRM_URL:-$default_confirm_url}"
  local default_reset_url='http://localhost:5173/reset#code={code}'
  export RESET_URL="${RESET_URL:-$default_reset_url}"
  local default_identifier_change_url='http://localhost:5173/me/identifier#code={code}'
  export IDENTIFIER_CHANGE_URL="${IDENTIFIER_CHANGE_URL:-$default_identifier_change_url}"
  export JWT_AUDIENCE="${JWT_AUDIENCE:-local-app}"
  # The services that acknowledge new users (their stand-ins run in local-events), and how
  # long one may take before the sweeper counts the user as unacknowledged (5 minutes
  # deployed; a minute here, so the alarm path shows in make dev, and less in make test).
  export SUBSCRIBER_SERVICES="${SUBSCRIBER_SERVICES:-social,blog}"
  export PROVISIONING_LAG_SECS="${PROVISIONING_LAG_SECS:-60}"
  # Two secrets, as deployed: the HMAC key and the signing keys (local-setup stores both
  # from the one key document, AUTH_SECRET_FILE).
  export AUTH_HMAC_SECRET_ID="${AUTH_HMAC_SECRET_ID:-auth-service/local-hmac}"
  export AUTH_SIGNING_SECRET_ID="${AUTH_SIGNING_SECRET_ID:-auth-service/local-signing}"
  export AUTH_OAUTH_SECRET_ID="${AUTH_OAUTH_SECRET_ID:-auth-service/local-oauth}"
  export RUST_LOG="${RUST_LOG:-info}"
  # Abuse budgets high enough for test suites that register hundreds of users and fail
  # hundreds of sign-ins from 127.0.0.1 (production defaults: 20 codes and 100 failures per IP
  # an hour, 1,000 SMS an hour); the tests of the budgets themselves set them low.
  export SENDS_PER_IP_PER_HOUR="${SENDS_PER_IP_PER_HOUR:-100000}"
  export FAILURES_PER_IP_PER_HOUR="${FAILURES_PER_IP_PER_HOUR:-100000}"
  export SMS_PER_HOUR="${SMS_PER_HOUR:-100000}"
}

# The key document (HMAC key + RSA signing key): made once into $1 if missing, then published
# the way a deployment does it: the two secrets in Secrets Manager (moto, by local-setup), the
# public JWK set in JWT_PUBLIC_JWKS, the signing kid in JWT_SIGNING_KID.
use_auth_secret() { # file
  if [ ! -s "$1" ]; then
    mkdir -p "$(dirname "$1")"
    (umask 077 && cargo run --quiet -p auth-tools --bin auth-keygen -- new --kid local-1 >"$1")
    stack_log "made a local signing key in $1 (kept out of git)"
  fi
  export AUTH_SECRET_FILE="$1"
  JWT_PUBLIC_JWKS="$(cargo run --quiet -p auth-tools --bin auth-keygen -- public <"$1")"
  JWT_SIGNING_KID="$(python3 -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["signing_keys"])[-1])' "$1")"
  export JWT_PUBLIC_JWKS JWT_SIGNING_KID
}

# The event pipeline: the table's stream fed to user-events, the acknowledgement queue to
# provisioning-ack, the sweeper on its schedule, all invoked through cargo lambda watch's
# Invoke API at $1 (settings from template.yaml), and the subscribing services' stand-ins.
start_events() { # invoke-url
  local bin="${CARGO_TARGET_DIR:-target}/debug/local-events"
  start_bg events "$bin" run "$1"
  sleep 0.5
  if ! kill -0 "$LAST_PID" 2>/dev/null; then
    # Its status tells a failure it printed from a kill by a signal (status 128 + signal,
    # e.g. 137 for the kernel's out-of-memory killer), which leaves the log empty.
    local status=0
    wait "$LAST_PID" || status=$?
    stack_log "the event pipeline exited at once (status $status); its log:"
    cat "$STACK_LOG_DIR/events.log" >&2
    return 1
  fi
  stack_log "event pipeline: $TABLE_NAME's stream -> user-events, outbox-sweeper on its schedule (pid $LAST_PID)"
}

stack_stop() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do
    # Process groups first (cargo lambda watch spawns function processes), then the pid.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STACK_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  STACK_PIDS=()
}
