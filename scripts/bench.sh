#!/usr/bin/env bash
# `make bench`: builds release binaries and measures every figure BENCHMARKS.md reports:
# crypto costs, each function's init time and warm overhead against loopback stand-ins,
# end-to-end throughput of login and refresh against DynamoDB Local with wrk, and the size
# of each arm64 bootstrap. Prints as it goes and writes BENCHMARKS.md. Not part of make test.
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
  echo "Init is process start to the first poll of the Runtime API: configuration, the clients"
  echo "the function builds, and, for those that need a key, the secret from a loopback Secrets"
  echo "Manager. Warm figures are $REQUESTS sequential invocations of one process, the event handed"
  echo "out by the Runtime API stand-in to the response received, with DynamoDB, SES, SNS and"
  echo "Secrets Manager answered by a loopback stand-in that also counts every call."
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
stack_stop

step "arm64 bootstrap sizes (cargo lambda build --release --arm64)"
ARM_TARGET="${ARM_TARGET_DIR:-$HOME/.cache/auth-service/target-arm64}"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
# The Makefile's own release build (what `sam build` deploys): every function, arm64.
make --no-print-directory lambda-release CARGO_TARGET_DIR="$ARM_TARGET"
{
  echo
  echo "## arm64 bootstraps (provided.al2023)"
  echo
  echo "| function | unzipped | zipped | target ≤ 8 MB unzipped |"
  echo "|---|---|---|---|"
  python3 - "$ARM_TARGET/lambda" <<'PY'
import io, os, sys, zipfile
root = sys.argv[1]
for name in sorted(os.listdir(root)):
    path = os.path.join(root, name, "bootstrap")
    if not os.path.isfile(path):
        continue
    raw = os.path.getsize(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    mb = lambda n: f"{n / 1e6:.2f} MB"
    print(f"| {name} | {mb(raw)} | {mb(len(buf.getvalue()))} | {'met' if raw <= 8e6 else '**missed**'} |")
PY
} | tee -a "$OUT"

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
