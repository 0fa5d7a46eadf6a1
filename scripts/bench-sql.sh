#!/usr/bin/env bash
# bench-sql.sh: the SQL benchmark of issue 4. In one run it starts a fresh tessera single
# node and a fresh PostgreSQL 15 (pg-oracle, fsync=on) on loopback, loads both with
# `workload sqlbench init`, runs point-select, insert and range-scan at 1 and 8 clients
# against each with the same driver binary, prints ops/s, p50 and p99 side by side with the
# tessera/PostgreSQL throughput ratio, and stops both servers on exit (also on error or ^C).
#
#   scripts/bench-sql.sh [--duration 15s] [--rows 100000] [--clients "1 8"]
#                        [--ops "point-select insert range-scan"]
#
# Environment:
#   TESSERA       tessera binary (default /root/.cache/tessera-target/release/tessera);
#                 copied to a temp dir first, so a rebuild during the run does not matter
#   WORKLOAD_BIN  driver binary; default `$TESSERA workload` when it has `sqlbench`, else
#                 /root/.cache/tessera-workload-target/release/examples/workload
#   PG_ORACLE     pg-oracle script (default /work/shared/tools/pg-oracle)
#   TESSERA_PORT  (26450) and PG_PORT (54360): loopback ports; the script refuses to start
#                 when either is already in use
set -euo pipefail

duration=${DURATION:-15s}
rows=${ROWS:-100000}
clients=${CLIENTS:-"1 8"}
ops=${OPS:-"point-select insert range-scan"}
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --ops) ops=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench-sql: unknown argument $1" >&2; exit 2 ;;
  esac
done

tessera_src=${TESSERA:-/root/.cache/tessera-target/release/tessera}
pg_oracle=${PG_ORACLE:-/work/shared/tools/pg-oracle}
tport=${TESSERA_PORT:-26450}
pport=${PG_PORT:-54360}
command -v jq >/dev/null || { echo "bench-sql: needs jq" >&2; exit 2; }
bench_name=bench-sql
# shellcheck source=bench/servers.sh
source "$(dirname "$0")/../bench/servers.sh"
bench_prepare
if [[ -n ${WORKLOAD_BIN:-} ]]; then
  cp "$WORKLOAD_BIN" "$tmp/workload"; driver=("$tmp/workload")
elif "$tmp/tessera" workload sqlbench --help >/dev/null 2>&1; then
  driver=("$tmp/tessera" workload)
else
  cp /root/.cache/tessera-workload-target/release/examples/workload "$tmp/workload"
  driver=("$tmp/workload")
fi

bench_start
pg_version=$(psql "$purl" -Atc 'show server_version')
pg_fsync=$(psql "$purl" -Atc 'show fsync')

echo "bench-sql: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, duration $duration per cell, $rows rows"
echo "bench-sql: tessera $turl (RocksDB, every commit synced); PostgreSQL $pg_version $purl (fsync=$pg_fsync)"
echo "bench-sql: driver ${driver[*]}"

for target in tessera postgres; do
  url=$turl; [[ $target == postgres ]] && url=$purl
  "${driver[@]}" sqlbench init --url "$url" --rows "$rows" --json --seed 1 >"$tmp/init-$target.json"
  jq -r --arg t "$target" '"init \($t): \(.rows) rows in \(.elapsed_s * 10 | round / 10) s"' \
    "$tmp/init-$target.json"
done

failed=0
# One cell = (op, clients); within a cell tessera runs first, then PostgreSQL, so machine
# noise drifts across both sides of each ratio alike.
run_cell() {
  local target=$1 op=$2 c=$3 url=$turl
  [[ $target == postgres ]] && url=$purl
  if ! "${driver[@]}" sqlbench run --url "$url" --rows "$rows" --op "$op" --concurrency "$c" \
      --duration "$duration" --json --seed 7 >"$tmp/run-$target-$op-$c.json" 2>"$tmp/run-$target-$op-$c.err"; then
    echo "bench-sql: $op × $c on $target failed: $(tail -n 1 "$tmp/run-$target-$op-$c.err")" >&2
    rm -f "$tmp/run-$target-$op-$c.json"
    failed=1
  fi
}
# "ops/s p50 p99 errors" of one result, or dashes.
fields() {
  local f="$tmp/run-$1-$2-$3.json"
  if [[ -s $f ]]; then
    jq -r '"\(.ops_per_s|round) \(.ops[0].latency.p50_ms) \(.ops[0].latency.p99_ms) \(.ops[0].errors)"' "$f"
  else
    echo "- - - -"
  fi
}
for op in $ops; do
  for c in $clients; do
    echo "bench-sql: $op, $c client(s)…" >&2
    run_cell tessera "$op" "$c"
    run_cell postgres "$op" "$c"
  done
done

echo
printf '| %-12s | %7s | %14s | %8s | %8s | %15s | %8s | %8s | %16s |\n' \
  op clients "tessera ops/s" "p50 ms" "p99 ms" "postgres ops/s" "p50 ms" "p99 ms" "tessera/postgres"
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|\n' \
  "--------------" "--------" "---------------" "---------" "---------" "----------------" "---------" "---------" "-----------------"
for op in $ops; do
  for c in $clients; do
    read -r tops tp50 tp99 terr <<<"$(fields tessera "$op" "$c")"
    read -r pops pp50 pp99 perr <<<"$(fields postgres "$op" "$c")"
    ratio=-
    if [[ $tops != - && $pops != - && $pops != 0 ]]; then
      ratio=$(awk -v a="$tops" -v b="$pops" 'BEGIN { printf "%.2f×", a / b }')
    fi
    printf '| %-12s | %7s | %14s | %8s | %8s | %15s | %8s | %8s | %16s |\n' \
      "$op" "$c" "$tops" "$tp50" "$tp99" "$pops" "$pp50" "$pp99" "$ratio"
    if [[ $terr != - && $terr != 0 || $perr != - && $perr != 0 ]]; then
      echo "bench-sql: $op × $c: errors tessera $terr, postgres $perr" >&2
    fi
  done
done
exit "$failed"
