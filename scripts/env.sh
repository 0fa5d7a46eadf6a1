# env.sh: sourced by the scripts. One persistent target directory, one profile (release),
# so the RocksDB C++ build (~30 min on 2 cores) happens once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
