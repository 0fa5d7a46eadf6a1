#!/usr/bin/env bash
# install-deps.sh: the one install step shared by scripts/demo.sh, scripts/test.sh and
# .ci/run. It installs only what a fresh machine lacks, so it is cheap to run every time.
#
# - clang + libclang-dev: RocksDB's Rust bindings (librocksdb-sys) run bindgen at build time.
# - psql, pgbench (Debian's postgresql package) and sysbench: the real clients the SQL tests
#   drive (crates/server/tests/psql.rs, crates/server/tests/pgbench.rs); tmux, in which psql runs interactively
#   for the tab-completion test.
# - cargo-nextest: the test runner (installed from crates.io if missing).
# - python3 + python3-venv, and a virtualenv at ${TESSERA_PYENV:-$HOME/.cache/tessera-pyenv}
#   holding the Python clients pinned in clients/python/requirements.txt (psycopg2, psycopg 3,
#   asyncpg, SQLAlchemy, pytest), for crates/server/tests/python_clients.rs. pip runs only
#   when the venv's recorded requirements differ from the file.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v pgbench >/dev/null 2>&1 || need_apt+=(postgresql)
command -v sysbench >/dev/null 2>&1 || need_apt+=(sysbench)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
# Debian's own interpreter, not whatever python3 comes first on PATH.
[[ -x /usr/bin/python3 ]] || need_apt+=(python3)
/usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
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

pyenv="${TESSERA_PYENV:-$HOME/.cache/tessera-pyenv}"
requirements=clients/python/requirements.txt
stamp="$pyenv/tessera-requirements.txt"
if ! [[ -x "$pyenv/bin/python" ]] || ! cmp -s "$requirements" "$stamp"; then
  echo "install-deps: installing the Python clients into $pyenv" >&2
  [[ -x "$pyenv/bin/python" ]] || /usr/bin/python3 -m venv "$pyenv"
  "$pyenv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
  "$pyenv/bin/python" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null |
    grep -iE '^(psycopg2-binary|psycopg|psycopg-binary|asyncpg|sqlalchemy|pytest)==' |
    sed 's/^/install-deps: /' >&2
fi
