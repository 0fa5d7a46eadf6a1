# servers.sh: sourced by the comparison benchmarks (bench/tpcc.sh, bench/pgbench.sh,
# scripts/bench-sql.sh). It starts a fresh tessera single node and a fresh PostgreSQL 15 on
# loopback, side by side, and stops both when the script exits, however it exits.
#
# The sourcing script sets, before calling these functions:
#   bench_name    its name, for messages
#   tessera_src   the tessera binary (copied into the temp dir, so a rebuild during the run
#                 does not matter)
#   pg_oracle     the pg-oracle script
#   tport, pport  the loopback ports of tessera and PostgreSQL
# and may define `bench_on_exit`, called with the temp dir still there (to keep logs).
#
# After `bench_start`: $tmp (a temp dir, removed on exit), $turl and $purl (the servers'
# URLs), $tpid (tessera's pid).

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

bench_cleanup() {
  local rc=$?
  if [[ -n ${tpid:-} ]] && kill -0 "$tpid" 2>/dev/null; then
    kill -TERM "$tpid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$tpid" 2>/dev/null && kill -KILL "$tpid" 2>/dev/null
    wait "$tpid" 2>/dev/null || true
  fi
  if [[ -n ${pg_started:-} ]]; then PG_ORACLE_PORT=$pport "$pg_oracle" stop || true; fi
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  rm -rf "$tmp"
  exit "$rc"
}

# Refuses busy ports, makes the temp dir, copies the binary and arms the exit trap.
bench_prepare() {
  [[ -x $tessera_src ]] || { echo "$bench_name: no tessera binary at $tessera_src" >&2; exit 2; }
  local p
  for p in "$tport" "$pport"; do
    if port_in_use "$p"; then echo "$bench_name: port $p is already in use" >&2; exit 2; fi
  done
  tmp=$(mktemp -d "/tmp/bench-$bench_name.XXXXXX")
  tpid=""
  pg_started=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  cp "$tessera_src" "$tmp/tessera"
}

# tessera on a fresh store (waits at most 60 s for its port), then PostgreSQL 15 on a fresh
# data directory (pg-oracle's stop deletes the one of this port), fsync=on.
bench_start() {
  "$tmp/tessera" start-single-node --store "$tmp/store" --sql-addr "127.0.0.1:$tport" \
    >"$tmp/tessera.log" 2>&1 &
  tpid=$!
  for _ in $(seq 1 600); do
    port_in_use "$tport" && break
    kill -0 "$tpid" 2>/dev/null || { echo "$bench_name: tessera exited:" >&2; cat "$tmp/tessera.log" >&2; exit 1; }
    sleep 0.1
  done
  port_in_use "$tport" || { echo "$bench_name: tessera did not listen within 60 s" >&2; exit 1; }
  turl="postgres://root@127.0.0.1:$tport/defaultdb?sslmode=disable"
  PG_ORACLE_PORT=$pport "$pg_oracle" stop
  pg_started=1
  purl=$(PG_ORACLE_PORT=$pport "$pg_oracle" start)
}
