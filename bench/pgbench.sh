#!/usr/bin/env bash
# pgbench.sh: issue 5's pgbench run, against tessera and PostgreSQL 15 side by side. In one
# run it starts a fresh tessera single node (RocksDB, every commit synced) and a fresh
# PostgreSQL 15 (pg-oracle, fsync=on) on loopback and, on each:
#
#   pgbench -i -s SCALE                                  (timed)
#   pgbench -c CLIENTS -j 2 -T DURATION --max-tries=MAX_TRIES              (TPC-B, simple)
#   pgbench -c CLIENTS -j 2 -T DURATION --max-tries=MAX_TRIES -M prepared  (TPC-B, prepared)
#
# and prints, per run, the tps, the transactions processed, the failed ones and the retried
# ones (pgbench 15 retries serialization failures, 40001, up to --max-tries and counts
# them), then the TPC-B invariant of each run (accounts, tellers and branches moved by that
# run's history total). A pgbench that exits non-zero, a failed transaction or a broken invariant makes the
# script exit 1. Both servers are stopped on exit.
#
#   SCALE (10) CLIENTS (8) DURATION (30) MAX_TRIES (10)
#   TESSERA       tessera binary (default /root/.cache/tessera-target/release/tessera),
#                 copied to a temp dir first
#   PG_ORACLE     pg-oracle script (default /work/shared/tools/pg-oracle)
#   TESSERA_PORT  (26461) and PG_PORT (54371)
#
# How long: two initializations (1,000,000 accounts each at scale 10) and 4 × DURATION.
set -euo pipefail

scale=${SCALE:-10}
clients=${CLIENTS:-8}
duration=${DURATION:-30}
max_tries=${MAX_TRIES:-10}
tessera_src=${TESSERA:-/root/.cache/tessera-target/release/tessera}
pg_oracle=${PG_ORACLE:-/work/shared/tools/pg-oracle}
tport=${TESSERA_PORT:-26461}
pport=${PG_PORT:-54371}
command -v pgbench >/dev/null || { echo "pgbench.sh: needs pgbench (scripts/install-deps.sh)" >&2; exit 2; }
bench_name=pgbench
# shellcheck source=bench/servers.sh
source "$(dirname "$0")/servers.sh"
bench_prepare
bench_start

echo "pgbench.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pgbench.sh: $(pgbench --version); scale $scale, $clients clients, ${duration}s per run, --max-tries=$max_tries"
status=0

# The line of pgbench's report that starts with $2.
field() { grep -m1 "^$2" <<<"$1" | sed "s/^$2 *//" || true; }

# "accounts tellers branches history" sums; pgbench empties the history before each run, so
# the invariant is: each balance moved, over one run, by that run's history total.
sums() {
  psql -X -At -F' ' -v ON_ERROR_STOP=1 "$1" -c "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts), (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers), (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history)"
}

rows=()
for system in tessera postgres; do
  url=$turl
  [[ $system == postgres ]] && url=$purl
  start=$(date +%s.%N)
  pgbench -i -q -s "$scale" "$url" >"$tmp/init.out" 2>&1 || { echo "pgbench.sh: $system: init failed" >&2; cat "$tmp/init.out" >&2; status=1; continue; }
  init_s=$(echo "$(date +%s.%N) - $start" | bc)
  invariants=""
  for mode in simple prepared; do
    read -r a0 t0 b0 _ <<<"$(sums "$url")"
    if ! out=$(pgbench -c "$clients" -j 2 -T "$duration" --max-tries="$max_tries" -M "$mode" "$url" 2>"$tmp/run.err"); then
      echo "pgbench.sh: $system $mode: pgbench exited non-zero" >&2; cat "$tmp/run.err" >&2; status=1
    fi
    tps=$(field "$out" "tps =" | cut -d' ' -f1)
    processed=$(field "$out" "number of transactions actually processed:")
    failed=$(field "$out" "number of failed transactions:")
    retried=$(field "$out" "number of transactions retried:")
    latency=$(field "$out" "latency average =")
    [[ ${failed%% *} == 0 ]] || status=1
    read -r a1 t1 b1 h <<<"$(sums "$url")"
    if (( a1 - a0 == h && t1 - t0 == h && b1 - b0 == h )); then
      invariants+=" $mode ok"
    else
      invariants+=" $mode BROKEN"
      echo "pgbench.sh: $system $mode: balances moved by $((a1 - a0)), $((t1 - t0)), $((b1 - b0)); history $h" >&2
      status=1
    fi
    rows+=("$(printf '| %-8s | %-8s | %8.1f | %10s | %-12s | %-22s | %-16s |' "$system" "$mode" "${tps:-0}" "$processed" "${latency}" "${failed:-?}" "${retried:-0}")")
  done
  rows+=("$(printf '| %-8s | init     | scale %s in %.1f s; TPC-B invariant:%s |' "$system" "$scale" "$init_s" "$invariants")")
done

echo
echo "| system   | mode     |      tps |  processed | latency avg  | failed                 | retried          |"
echo "|----------|----------|---------:|-----------:|--------------|------------------------|------------------|"
printf '%s\n' "${rows[@]}"
exit $status
