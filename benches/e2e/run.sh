#!/usr/bin/env bash
# End-to-end benchmark: pgbench straight to PostgreSQL and through partproxy,
# interleaved in one run on one machine, printed with the ratios.
#
#   benches/e2e/run.sh                 # 8 clients, 10 s per run
#   CLIENTS="1 8 64" DURATION=20 benches/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-10}
SCALE=${SCALE:-10}
POOL_SIZE=${POOL_SIZE:-16}
bindir=$(pg_bindir)
pgbench="$bindir/pgbench"
[ -x "$pgbench" ] || pgbench=pgbench

cargo build --release --quiet
dir=$(mktemp -d /tmp/partproxy-bench.XXXXXX)
pg_port=$(free_port)
proxy_port=$(free_port)
proxy_pid=
bouncer_port=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
  [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null
  stop_cluster "$dir"
}
trap cleanup EXIT
start_cluster "$dir" "$pg_port" bench
export PGPASSWORD=bench
"$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -i -q -s "$SCALE" postgres >/dev/null 2>&1
./target/release/partproxy --listen "127.0.0.1:$proxy_port" --log-level warn \
  --upstream "postgres://postgres:bench@127.0.0.1:$pg_port/postgres" \
  --pool-mode transaction --pool-size "$POOL_SIZE" &
proxy_pid=$!
wait_port "$proxy_port"

# PgBouncer, when installed, with the same pool size and mode, for comparison.
if command -v pgbouncer >/dev/null 2>&1; then
  bouncer_port=$(free_port)
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$pg_port dbname=postgres user=postgres password=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 5000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  echo '"postgres" "bench"' > "$dir/users.txt"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pgbouncer.ini" "$dir/users.txt"
  as_pg pgbouncer -d "$dir/pgbouncer.ini"
  wait_port "$bouncer_port"
fi

run() { # port mode clients -> "tps latency_ms"
  "$pgbench" -h 127.0.0.1 -p "$1" -U postgres -M "$2" -c "$3" -j "$(( $3 < 2 ? 1 : 2 ))" -T "$DURATION" -S -n postgres 2>/dev/null \
    | awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "%.0f %.3f", tps, lat}'
}

echo "pgbench -S (select-only), scale $SCALE, ${DURATION}s per run, proxy: transaction pooling, pool_size $POOL_SIZE"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-9s %7s %11s %9s %11s %9s %11s %9s %13s %13s\n' mode clients direct_tps direct_ms proxy_tps proxy_ms \
  bouncer_tps bouncer_ms proxy/direct proxy/bouncer
for mode in simple prepared; do
  for c in $CLIENTS; do
    read -r dt dl <<<"$(run "$pg_port" "$mode" "$c")"
    read -r pt pl <<<"$(run "$proxy_port" "$mode" "$c")"
    bt=- bl=- pb=-
    if [ -n "$bouncer_port" ]; then
      read -r bt bl <<<"$(run "$bouncer_port" "$mode" "$c")"
      pb=$(ratio "$pt" "$bt")
    fi
    printf '%-9s %7s %11s %9s %11s %9s %11s %9s %13s %13s\n' "$mode" "$c" "$dt" "$dl" "$pt" "$pl" "$bt" "$bl" \
      "$(ratio "$pt" "$dt")" "$pb"
  done
done
cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$proxy_pid/stat" 2>/dev/null || echo '?')
rss=$(awk '/VmRSS/ {print $2 / 1024 " MB"}' "/proc/$proxy_pid/status" 2>/dev/null || echo '?')
echo "proxy CPU time: ${cpu}s, resident memory: $rss"
