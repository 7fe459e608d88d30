#!/usr/bin/env bash
# Prints, and removes, the messages waiting in a queue of the `make dev` stack, e.g.
#   bash scripts/queue.sh social-service-user-events
#   bash scripts/queue.sh blog-service-user-events
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bash scripts/queue.sh <queue-name>" >&2; exit 2; }
source scripts/stack.sh
export_stack_env 8000 5000 3000
exec cargo run --quiet -p auth-tools --bin local-events -- receive "$1"
