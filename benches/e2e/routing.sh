#!/usr/bin/env bash
# Routing benchmark: point SELECT on a 2048-child inheritance parent, straight
# to the parent, straight to the right child, and through partproxy, in one
# run; then again with the parent proven empty (CHECK (false) NO INHERIT);
# then the same three with pgbench -M prepared (the proxy routes each Bind by
# its parameter; PostgreSQL's generic plan cannot prune for $1).
#
#   benches/e2e/routing.sh            # 8 clients, 8 s per run, -M simple
#   CLIENTS=16 DURATION=20 benches/e2e/routing.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-8}
CHILDREN=${CHILDREN:-2048}
bindir=$(pg_bindir)
pgbench="$bindir/pgbench"; [ -x "$pgbench" ] || pgbench=pgbench
psql="$bindir/psql"; [ -x "$psql" ] || psql=psql

cargo build --release --quiet
dir=$(mktemp -d /tmp/partproxy-routing.XXXXXX)
pg_port=$(free_port)
proxy_port=$(free_port)
proxy_pid=
cleanup() { [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null; stop_cluster "$dir"; }
trap cleanup EXIT
start_cluster "$dir" "$pg_port" bench
export PGPASSWORD=bench
"$psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres postgres <<SQL
CREATE TABLE ue (k int NOT NULL, v text);
DO \$\$ BEGIN FOR i IN 0..$((CHILDREN - 1)) LOOP
  EXECUTE format('CREATE TABLE ue_%s (CHECK (k >= %s AND k < %s)) INHERITS (ue)', i, i * 1000, (i + 1) * 1000);
  EXECUTE format('INSERT INTO ue_%s SELECT g, ''v'' || g FROM generate_series(%s, %s, 10) g', i, i * 1000, (i + 1) * 1000 - 1);
  EXECUTE format('CREATE INDEX ON ue_%s (k)', i);
END LOOP; END \$\$;
ANALYZE;
SQL
max=$((CHILDREN * 1000 - 1))
printf '\\set k random(0, %s)\nSELECT * FROM ue WHERE k = :k;\n' "$max" > "$dir/parent.sql"
printf '\\set k random(0, %s)\n\\set c :k / 1000\nSELECT * FROM ue_:c WHERE k = :k;\n' "$max" > "$dir/child.sql"
# -M prepared cannot take a table name as a parameter: one fixed child.
printf '\\set k random(7000, 7999)\nSELECT * FROM ue_7 WHERE k = :k;\n' > "$dir/child7.sql"
chmod 644 "$dir"/*.sql
./target/release/partproxy --listen "127.0.0.1:$proxy_port" --log-level warn \
  --upstream "postgres://postgres:bench@127.0.0.1:$pg_port/postgres" --pool-mode transaction --pool-size 16 &
proxy_pid=$!
wait_port "$proxy_port"

tps() { "$pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -M "${3:-simple}" -c "$CLIENTS" -j 2 -T "$DURATION" -f "$2" postgres 2>/dev/null \
  | awk '/^tps/ {printf "%.0f", $3}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "point SELECT, $CHILDREN inheritance children, $CLIENTS clients, ${DURATION}s per run, -M simple"
parent=$(tps "$pg_port" "$dir/parent.sql")
child=$(tps "$pg_port" "$dir/child.sql")
proxied=$(tps "$proxy_port" "$dir/parent.sql")
"$psql" -q -h 127.0.0.1 -p "$proxy_port" -U postgres postgres -c "ALTER TABLE ue ADD CONSTRAINT ue_empty CHECK (false) NO INHERIT"
sleep 1
proxied_empty=$(tps "$proxy_port" "$dir/parent.sql")
child2=$(tps "$pg_port" "$dir/child.sql")
printf '%-52s %10s\n' target tps
printf '%-52s %10s\n' "direct to the parent" "$parent"
printf '%-52s %10s\n' "direct to the right child" "$child"
printf '%-52s %10s\n' "proxy (parent may hold rows)" "$proxied"
printf '%-52s %10s\n' "proxy (parent proven empty)" "$proxied_empty"
printf '%-52s %10s\n' "direct to the right child (again)" "$child2"
echo "proxy (empty parent) / direct parent: $(ratio "$proxied_empty" "$parent")x"
echo "proxy (empty parent) / right child:   $(ratio "$proxied_empty" "$(( (child + child2) / 2 ))")x"

echo
echo "the same with -M prepared (parent proven empty)"
parent_p=$(tps "$pg_port" "$dir/parent.sql" prepared)
child_p=$(tps "$pg_port" "$dir/child7.sql" prepared)
proxied_p=$(tps "$proxy_port" "$dir/parent.sql" prepared)
printf '%-52s %10s\n' "direct to the parent (-M prepared)" "$parent_p"
printf '%-52s %10s\n' "direct to the right child (-M prepared)" "$child_p"
printf '%-52s %10s\n' "proxy (-M prepared)" "$proxied_p"
echo "proxy / direct parent (-M prepared): $(ratio "$proxied_p" "$parent_p")x"
echo "proxy / right child (-M prepared):   $(ratio "$proxied_p" "$child_p")x"
