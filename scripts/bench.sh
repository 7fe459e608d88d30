#!/usr/bin/env bash
# `make bench`: builds release binaries and measures every figure BENCHMARKS.md reports:
# crypto costs, each function's init time and warm overhead against loopback stand-ins,
# end-to-end throughput of login and refresh against DynamoDB Local with wrk, 10,000 users
# imported into it (BENCH_IMPORT_USERS), and the size of each arm64 bootstrap. Prints as it
# goes and writes BENCHMARKS.md. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
REQUESTS="${BENCH_REQUESTS:-2000}"
DURATION="${BENCH_DURATION:-20s}"
OUT="$(mktemp -t bench.XXXXXX)"

step "tools"
bash scripts/tools.sh
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian)" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi
source scripts/stack.sh
trap stack_stop EXIT
trap 'exit 130' INT TERM
export PATH="$CARGO_LAMBDA_BIN_DIR:$PATH"
TARGET="${CARGO_TARGET_DIR:-target}"

step "release build (x86_64): the bench and the one bootstrap every function deploys"
cargo build --release -p auth-bench -p auth-bootstrap

step "crypto"
{
  echo "## Crypto: the service's paths against the bare primitives (one core, same run)"
  echo
  "$TARGET/release/auth-bench" crypto
} | tee -a "$OUT"

step "functions: init and warm overhead ($REQUESTS requests each)"
{
  echo
  echo "## Functions against loopback stand-ins (x86_64 release)"
  echo
  echo "Init is process start to the first poll of the Runtime API: configuration and the clients"
  echo "the function builds; the secrets a function needs are fetched from then on, in the"
  echo "background, from a stand-in Secrets Manager that answers in ${BENCH_SECRET_DELAY_MS:-30} ms (BENCH_SECRET_DELAY_MS),"
  echo "as a round trip in AWS would. Warm figures are $REQUESTS sequential invocations of one process,"
  echo "the event handed out by the Runtime API stand-in to the response received, with DynamoDB,"
  echo "SES, SNS and Secrets Manager answered by a loopback stand-in that also counts every call."
  echo
  "$TARGET/release/auth-bench" lambda "$TARGET/release" "$REQUESTS"
  echo
  echo "### Init, step by step (in one process, against the same stand-ins)"
  echo
  "$TARGET/release/auth-bench" init-steps
} | tee -a "$OUT"

step "end to end: login and refresh through the local API against DynamoDB Local (wrk)"
DDB_PORT=$(free_port)
MOTO_PORT=$(free_port)
API_PORT=$(free_port)
export TABLE_NAME="auth-bench" RUST_LOG=warn
export_stack_env "$DDB_PORT" "$MOTO_PORT" "$API_PORT"
use_auth_secret "$STACK_LOG_DIR/auth-secret.json"
start_dynamodb "$DDB_PORT"
start_moto "$MOTO_PORT"
cargo run --quiet -p auth-tools --bin local-setup
# cargo lambda watch runs each function's own release binary, built on its first request:
# the dependencies of those this step calls are built here first (bench_prepare.py registers,
# confirms, signs in and refreshes once, with a long timeout, so each binary is linked and
# running before wrk starts timing).
cargo build --release -p register -p confirm -p login -p token >&2
start_bg api cargo lambda watch --release -P "$API_PORT" -A 127.0.0.1 --ignore-changes --concurrency 8
wait_for_port "$API_PORT" api "$LAST_PID" 60
THREADS=2
export BENCH_DIR="$STACK_LOG_DIR"
python3 scripts/bench_prepare.py "$THREADS" "$BENCH_DIR" # a verified user, one token per thread
run_wrk() { # name script
  wrk -t"$THREADS" -c"$THREADS" -d"$DURATION" -s "$2" "$API_URL" >"$STACK_LOG_DIR/wrk-$1.txt" 2>&1
  cat "$STACK_LOG_DIR/wrk-$1.txt" >&2
  python3 - "$1" "$STACK_LOG_DIR/wrk-$1.txt" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
total = re.search(r"(\d+) requests in", text).group(1)
lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", text)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sockerr = re.search(r"Socket errors: (.*)", text)
errors = int(non2xx.group(1)) if non2xx else 0
extra = re.search(r"chain errors: (\d+)", text)
errors += int(extra.group(1)) if extra else 0
print(f"| {name} | {total} | {rps} | {lat.group(1)} | {errors}{' (socket: ' + sockerr.group(1) + ')' if sockerr else ''} |")
PY
}
{
  echo
  echo "## End to end through the local API (release builds, DynamoDB Local, wrk)"
  echo
  echo "\`cargo lambda watch --release --concurrency 8\` routing to the functions, DynamoDB Local"
  echo "(Java) and moto on the same 2 cores; $THREADS connections for $DURATION. Each refresh uses the"
  echo "token the previous one returned (one chain per connection)."
  echo
  echo "| flow | requests | requests/s | mean latency | errors |"
  echo "|---|---|---|---|---|"
  run_wrk login scripts/wrk/login.lua
  run_wrk refresh scripts/wrk/refresh.lua
} | tee -a "$OUT"

step "import: ${BENCH_IMPORT_USERS:-10000} users through ops::import against the same DynamoDB Local"
"$TARGET/release/auth-bench" import "${BENCH_IMPORT_USERS:-10000}" | tee -a "$OUT"
stack_stop

step "the deployed bootstrap: build time and size"
# What `sam build` runs (the Makefile's lambda-release: one bootstrap for every function), for
# arm64 where this machine has the target, timed from an empty target directory; else the same
# build for x86_64, said so.
BUILD_TARGET="$(mktemp -d -t auth-bench-build.XXXXXX)"
if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  arch=arm64
  build=(make --no-print-directory lambda-release CARGO_TARGET_DIR="$BUILD_TARGET")
  bootstrap="$BUILD_TARGET/lambda/bootstrap/bootstrap"
else
  arch="x86_64 (the aarch64-unknown-linux-gnu target is not installed here)"
  build=(cargo build --release -p auth-bootstrap --target-dir "$BUILD_TARGET")
  bootstrap="$BUILD_TARGET/release/bootstrap"
fi
started=$(date +%s)
"${build[@]}" >&2
full=$(($(date +%s) - started))
echo "// bench: a one-line change" >>shared/src/lib.rs
started=$(date +%s)
"${build[@]}" >&2 || { git checkout -q shared/src/lib.rs; exit 1; }
incremental=$(($(date +%s) - started))
git checkout -q shared/src/lib.rs
{
  echo
  echo "## The deployed bootstrap: $arch"
  echo
  echo "One release build of \`bootstrap/\` (fat LTO, one codegen unit), the file every function deploys."
  echo
  echo "| from an empty target directory | after a one-line change in shared/ | unzipped | zipped | ≤ 10 min / ≤ 3 min |"
  echo "|---|---|---|---|---|"
  python3 - "$bootstrap" "$full" "$incremental" <<'PY'
import io, os, sys, zipfile
path, full, incremental = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = os.path.getsize(path)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(path, "bootstrap")
mb = lambda n: f"{n / 1e6:.2f} MB"
t = lambda s: f"{s // 60} min {s % 60} s"
ok = full <= 600 and incremental <= 180
print(f"| {t(full)} | {t(incremental)} | {mb(raw)} | {mb(len(buf.getvalue()))} | {'met' if ok else '**missed**'} |")
PY
} | tee -a "$OUT"
rm -rf "$BUILD_TARGET"

{
  echo "# Benchmarks"
  echo
  echo "Made by \`make bench\` on $(date -u +%Y-%m-%d): $(lscpu | sed -n 's/^Model name: *//p' | head -1),"
  echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -sr), $(rustc --version)."
  echo "Timings are from this machine; rerun \`make bench\` to compare."
  echo
  cat "$OUT"
  if [ -f docs/benchmarks-notes.md ]; then
    echo
    cat docs/benchmarks-notes.md
  fi
} > BENCHMARKS.md
step "wrote BENCHMARKS.md"
