#!/usr/bin/env bash
# bench.sh: runs the criterion benchmarks of the foundation (RocksDB and memory) in the one
# release profile. Extra arguments go to criterion (e.g. a filter like `mvcc_get`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
cargo bench -p tessera-server --bench foundation -- "$@"
