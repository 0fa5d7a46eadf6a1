#!/usr/bin/env bash
# demo.sh: builds tessera (installing what a fresh machine lacks) and runs `tessera demo`.
# Extra arguments go to `tessera demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
cargo build --release -p tessera-server --bin tessera
exec "$CARGO_TARGET_DIR/release/tessera" demo "$@"
