#!/usr/bin/env bash
# End-to-end benchmark, one command: starts its own PostgreSQL, partproxy and
# (when installed) PgBouncer, then runs pgbench against each target in one
# run on one machine, at 1, 8 and 64 clients, -M simple and -M prepared, and
# prints tps, average latency and the ratios:
#
#   point SELECT on a 2048-child inheritance parent: direct to the parent,
#     direct to the right child, through the proxy;
#   the same on a 2048-partition declarative table: direct, through the proxy;
#   1-row and 1000-row INSERT into the seed's legacy `logs` parent: through
#     its trigger directly, straight into the child, through the proxy;
#   a query on no partitioned table (pgbench -S): direct, through the proxy,
#     through PgBouncer (same pool size, transaction mode).
#
# The targets compared in a row run in turn, REPEAT rounds each, and each
# target's median round is reported, so that the machine's slow spells fall
# on every target alike. Then the proxy's CPU time per transaction and its
# resident memory with 1,000 idle clients connected.
#
#   benches/e2e/run.sh                          # 3 rounds of 5 s per target (252 runs, about 25 min)
#   DURATION=10 CLIENTS="8 64" MODES=prepared benches/e2e/run.sh
#   SCENARIOS="1000-row|no partitioned" benches/e2e/run.sh   # only these (an extended regex)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-"1 8 64"}
MODES=${MODES:-"simple prepared"}
POOL_SIZE=${POOL_SIZE:-16}
CHILDREN=2048
IDLE_CLIENTS=${IDLE_CLIENTS:-1000}
SCENARIOS=${SCENARIOS:-.}
REPEAT=${REPEAT:-3}
bindir=$(pg_bindir)
pgbench="$bindir/pgbench"; [ -x "$pgbench" ] || pgbench=pgbench
psql="$bindir/psql"; [ -x "$psql" ] || psql=psql
if ! command -v pgbouncer >/dev/null 2>&1; then
  apt_install pgbouncer >/dev/null 2>&1 || echo "PgBouncer not installed: its column stays empty" >&2
fi

cargo build --release --quiet
dir=$(mktemp -d /tmp/partproxy-e2e.XXXXXX)
chmod 755 "$dir"
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
q() { "$psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

echo "building the schemas (2048 inheritance children, 2048 partitions, the legacy logs table, pgbench tables)..." >&2
q postgres <<SQL
CREATE TABLE ue (k int NOT NULL, v text);
ALTER TABLE ONLY ue ADD CONSTRAINT ue_empty CHECK (false) NO INHERIT;
CREATE TABLE de (k int NOT NULL, v text) PARTITION BY RANGE (k);
DO \$\$ BEGIN FOR i IN 0..$((CHILDREN - 1)) LOOP
  EXECUTE format('CREATE TABLE ue_%s (CHECK (k >= %s AND k < %s)) INHERITS (ue)', i, i * 1000, (i + 1) * 1000);
  EXECUTE format('INSERT INTO ue_%s SELECT g, ''v'' || g FROM generate_series(%s, %s, 10) g', i, i * 1000, (i + 1) * 1000 - 1);
  EXECUTE format('CREATE INDEX ON ue_%s (k)', i);
  EXECUTE format('CREATE TABLE de_%s PARTITION OF de FOR VALUES FROM (%s) TO (%s)', i, i * 1000, (i + 1) * 1000);
END LOOP; END \$\$;
INSERT INTO de SELECT k, v FROM ue;
CREATE INDEX ON de (k);
ANALYZE;
SQL
# The seed's legacy table (the demo's schema: 36 monthly children and an
# IF/ELSIF trigger), in database demo.
q postgres -f config/compose/initdb/01-demo.sql >/dev/null
"$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -i -q -s 10 postgres >/dev/null 2>&1

# Scripts. The key is a literal (or a parameter under -M prepared), as the
# proxy routes on constants; pgbench cannot name a table by variable under
# -M prepared, so "the right child" there is one fixed child.
max=$((CHILDREN * 1000 - 1))
printf '\\set k random(0, %s)\nSELECT * FROM ue WHERE k = :k;\n' "$max" > "$dir/ue.sql"
printf '\\set k random(0, %s)\n\\set c :k / 1000\nSELECT * FROM ue_:c WHERE k = :k;\n' "$max" > "$dir/ue_child.sql"
printf '\\set k random(7000, 7999)\nSELECT * FROM ue_7 WHERE k = :k;\n' > "$dir/ue_child7.sql"
printf '\\set k random(0, %s)\nSELECT * FROM de WHERE k = :k;\n' "$max" > "$dir/de.sql"
printf '\\set id random(1, 1000000000)\nINSERT INTO logs (id, created_at, level, message) VALUES (:id, '"'"'2025-06-14 08:30:00+00'"'"', '"'"'info'"'"', '"'"'one row'"'"');\n' > "$dir/ins1.sql"
sed 's/INTO logs /INTO logs_2025_06 /' "$dir/ins1.sql" > "$dir/ins1_child.sql"
# 1000 rows over three months (through the trigger and the proxy), and the
# same 1000 rows' worth into one child.
awk 'BEGIN {
  printf "INSERT INTO logs (id, created_at, level, message) VALUES ";
  for (i = 0; i < 1000; i++) {
    m = 1 + i % 3; d = 1 + i % 28; h = i % 24;
    printf "%s(%d, '"'"'2026-%02d-%02d %02d:00:00+00'"'"', '"'"'info'"'"', '"'"'row %d'"'"')", (i ? ", " : ""), i, m, d, h, i;
  }
  print ";";
}' > "$dir/ins1000.sql"
awk 'BEGIN {
  printf "INSERT INTO logs_2026_01 (id, created_at, level, message) VALUES ";
  for (i = 0; i < 1000; i++) {
    d = 1 + i % 28; h = i % 24;
    printf "%s(%d, '"'"'2026-01-%02d %02d:00:00+00'"'"', '"'"'info'"'"', '"'"'row %d'"'"')", (i ? ", " : ""), i, d, h, i;
  }
  print ";";
}' > "$dir/ins1000_child.sql"
chmod 644 "$dir"/*.sql

cat > "$dir/partproxy.toml" <<TOML
listen = "127.0.0.1:$proxy_port"
metrics_listen = ""
log_level = "warn"
max_client_connections = 5000
[pool]
mode = "transaction"
pool_size = $POOL_SIZE
[[databases]]
name = "postgres"
port = $pg_port
user = "postgres"
password = "bench"
[[databases]]
name = "demo"
port = $pg_port
user = "postgres"
password = "bench"
[[users]]
name = "postgres"
password = "bench"
TOML
./target/release/partproxy --config "$dir/partproxy.toml" &
proxy_pid=$!
wait_port "$proxy_port"

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

proxy_cpu() { awk '{print $14 + $15}' "/proc/$proxy_pid/stat"; }
ticks=$(getconf CLK_TCK)
# bench PORT DB MODE CLIENTS SCRIPT -> "tps latency_ms" (script "-S" = pgbench's select-only)
bench() {
  local what=(-f "$5"); [ "$5" = "-S" ] && what=(-S)
  "$pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -M "$3" -c "$4" -j "$(( $4 < 2 ? 1 : 2 ))" -T "$DURATION" "${what[@]}" "$2" 2>/dev/null \
    | awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "%.0f %.2f", tps, lat}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

results=$dir/results.txt
raw=$dir/raw.txt
: > "$raw"
# group SCENARIO DB "TARGET|PORT|SCRIPT"...: for each mode and client count,
# the targets run in turn, REPEAT rounds, so that a slow spell of the machine
# falls on every target alike; each target's median round is reported.
group() {
  local scenario=$1 db=$2 mode c round spec target port script tps lat before after
  shift 2
  grep -Eq -- "$SCENARIOS" <<<"$scenario" || return 0
  for mode in $MODES; do
    for c in $CLIENTS; do
      for round in $(seq "$REPEAT"); do
        for spec in "$@"; do
          IFS='|' read -r target port script <<<"$spec"
          [ "$mode" = prepared ] && [ "$script" = "$dir/ue_child.sql" ] && script=$dir/ue_child7.sql
          before=$(proxy_cpu)
          read -r tps lat <<<"$(bench "$port" "$db" "$mode" "$c" "$script")"
          after=$(proxy_cpu)
          [ "$port" = "$proxy_port" ] || { before=0; after=0; }
          printf '%s|%s|%s|%s|%s|%s|%s\n' "$scenario" "$target" "$mode" "$c" "$tps" "$lat" "$((after - before))" >> "$raw"
          printf '  %-26s %-22s %-8s %3s clients  round %s  %7s tps %9s ms\n' "$scenario" "$target" "$mode" "$c" "$round" "$tps" "$lat" >&2
        done
      done
    done
  done
}

echo "running ($REPEAT rounds of ${DURATION}s per target)..." >&2
group "point SELECT, inheritance" postgres \
  "direct to parent|$pg_port|$dir/ue.sql" \
  "direct to right child|$pg_port|$dir/ue_child.sql" \
  "proxy|$proxy_port|$dir/ue.sql"
group "point SELECT, declarative" postgres \
  "direct|$pg_port|$dir/de.sql" \
  "proxy|$proxy_port|$dir/de.sql"
group "1-row INSERT, logs" demo \
  "direct (trigger)|$pg_port|$dir/ins1.sql" \
  "straight into child|$pg_port|$dir/ins1_child.sql" \
  "proxy|$proxy_port|$dir/ins1.sql"
group "1000-row INSERT, logs" demo \
  "direct (trigger)|$pg_port|$dir/ins1000.sql" \
  "straight into child|$pg_port|$dir/ins1000_child.sql" \
  "proxy|$proxy_port|$dir/ins1000.sql"
group "no partitioned table (-S)" postgres \
  "direct|$pg_port|-S" \
  "proxy|$proxy_port|-S" \
  ${bouncer_port:+"PgBouncer|$bouncer_port|-S"}

# One line per target: the median round's tps and latency, and the proxy's
# CPU time over all its rounds per transaction.
: > "$results"
cut -d'|' -f1-4 "$raw" | awk '!seen[$0]++' | while IFS= read -r key; do
  mine=$(awk -F'|' -v k="$key" '$1 "|" $2 "|" $3 "|" $4 == k' "$raw")
  median=$(sort -t'|' -k5,5n <<<"$mine" | sed -n "$(( ($(wc -l <<<"$mine") + 1) / 2 ))p")
  cpu=$(awk -F'|' -v hz="$ticks" -v d="$DURATION" '{ t += $7; n += $5 * d } END { if (t > 0 && n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }' <<<"$mine")
  printf '%s|%s\n' "$(cut -d'|' -f1-6 <<<"$median")" "$cpu" >> "$results"
done

get() { awk -F'|' -v s="$1" -v t="$2" -v m="$3" -v c="$4" '$1 == s && $2 == t && $3 == m && $4 == c {print $5}' "$results"; }

echo
echo "partproxy end-to-end: median of $REPEAT interleaved rounds of ${DURATION}s, transaction pooling, pool_size $POOL_SIZE, PostgreSQL $("$psql" -h 127.0.0.1 -p "$pg_port" -U postgres -At -c 'SHOW server_version' postgres)$( [ -n "$bouncer_port" ] && echo ", $(pgbouncer --version 2>/dev/null | head -1)")"
echo
echo "| scenario | target | mode | clients | tps | avg latency ms | proxy CPU µs/txn |"
echo "|---|---|---|---|---|---|---|"
awk -F'|' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$results"
echo
echo "| mode | clients | inheritance: proxy / child | proxy / parent | declarative: proxy / direct | 1-row INSERT: proxy / trigger | 1000-row INSERT: proxy / trigger (rows/s) | no partition: proxy / direct | proxy / PgBouncer |"
echo "|---|---|---|---|---|---|---|---|---|"
for mode in $MODES; do
  for c in $CLIENTS; do
    up=$(get "point SELECT, inheritance" proxy "$mode" "$c")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$mode" "$c" \
      "$(ratio "$up" "$(get "point SELECT, inheritance" "direct to right child" "$mode" "$c")")" \
      "$(ratio "$up" "$(get "point SELECT, inheritance" "direct to parent" "$mode" "$c")")" \
      "$(ratio "$(get "point SELECT, declarative" proxy "$mode" "$c")" "$(get "point SELECT, declarative" direct "$mode" "$c")")" \
      "$(ratio "$(get "1-row INSERT, logs" proxy "$mode" "$c")" "$(get "1-row INSERT, logs" "direct (trigger)" "$mode" "$c")")" \
      "$(ratio "$(get "1000-row INSERT, logs" proxy "$mode" "$c")" "$(get "1000-row INSERT, logs" "direct (trigger)" "$mode" "$c")")" \
      "$(ratio "$(get "no partitioned table (-S)" proxy "$mode" "$c")" "$(get "no partitioned table (-S)" direct "$mode" "$c")")" \
      "$(ratio "$(get "no partitioned table (-S)" proxy "$mode" "$c")" "$(get "no partitioned table (-S)" PgBouncer "$mode" "$c")")"
  done
done

# Resident memory with IDLE_CLIENTS idle clients (psycopg from the driver venv).
python=$(driver_python 2>/dev/null || true)
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$proxy_pid/status"; }
echo
if [ -n "$python" ]; then
  before=$(rss)
  "$python" - "$proxy_port" "$IDLE_CLIENTS" "$proxy_pid" <<'PY'
import sys, psycopg
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = [psycopg.connect(host="127.0.0.1", port=port, user="postgres", password="bench", dbname="postgres", autocommit=True) for _ in range(n)]
for c in conns[::100]:
    c.execute("SELECT 1")
rss = next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")).split()[1]
print(f"resident memory with {n} idle clients: {int(rss) / 1024:.1f} MB")
for c in conns:
    c.close()
PY
  echo "resident memory before they connected: $before MB"
else
  echo "no Python with psycopg: idle-client memory not measured"
fi
