#!/usr/bin/env bash
# install-deps.sh: the one install step shared by scripts/demo.sh, scripts/test.sh and
# .ci/run. It installs only what a fresh machine lacks, so it is cheap to run every time.
#
# - clang + libclang-dev: RocksDB's Rust bindings (librocksdb-sys) run bindgen at build time.
# - cargo-nextest: the test runner (installed from crates.io if missing).
set -euo pipefail

need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
if ((${#need_apt[@]})); then
  echo "install-deps: installing ${need_apt[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi
