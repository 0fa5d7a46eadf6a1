#!/usr/bin/env bash
# test.sh: the test command. Installs what a fresh machine lacks, then runs formatting,
# lints, docs and every test, in the one (release) profile so RocksDB compiles once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --release --workspace --no-deps --quiet
echo "== tests"
cargo nextest run --release --workspace --no-fail-fast
