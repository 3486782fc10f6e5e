# Shared helpers for the project's scripts: finding (or installing) the
# PostgreSQL server binaries and running a throwaway cluster.

# Prints the directory holding initdb/postgres, installing PostgreSQL through
# apt when it is missing and we are allowed to.
pg_bindir() {
  local dir
  if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then echo "$PG_BINDIR"; return; fi
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server binaries not found: installing them with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  fi
  echo "PostgreSQL server binaries not found. Install them (Debian/Ubuntu: apt-get install postgresql) or set PG_BINDIR." >&2
  return 1
}

# Runs a command as the account that owns the cluster (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# start_cluster DIR PORT PASSWORD: initdb (scram for TCP) and start; fsync off.
start_cluster() {
  local dir=$1 port=$2 password=$3 bindir
  bindir=$(pg_bindir)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  printf '%s' "$password" > "$dir/pw"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir/pw"; fi
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --no-sync \
    --pwfile="$dir/pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 1200
CONF
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
}

stop_cluster() {
  local dir=$1 bindir
  bindir=$(pg_bindir)
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

# wait_port PORT: wait up to 10 s until something accepts on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Prints the Python of the virtual environment the driver suites run in
# (target/driver-venv, with psycopg 3 and asyncpg), creating it when missing.
driver_python() {
  local venv=target/driver-venv
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import psycopg, asyncpg' 2>/dev/null; then
    echo "$PWD/$venv/bin/python"; return
  fi
  rm -rf "$venv"
  # Debian ships venv's pip bootstrap separately (python3-venv).
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Python venv support not found: installing it with apt-get" >&2
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
      rm -rf "$venv"
      python3 -m venv "$venv" >&2
    else
      echo "python3 with venv is needed for the driver suites" >&2
      return 1
    fi
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "psycopg[binary]==3.2.*" "asyncpg==0.30.*" >&2
  echo "$PWD/$venv/bin/python"
}

# apt_install PACKAGE...: installs Debian packages when running as root.
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  else
    return 1
  fi
}

# Makes sure the status-page test has a headless Chromium and the compose
# test a compose validator, installing Debian's packages when missing.
test_tools() {
  if ! command -v chromium >/dev/null 2>&1 && [ -z "${PARTPROXY_CHROMIUM:-}" ]; then
    echo "chromium not found: installing it with apt-get" >&2
    apt_install chromium || echo "install Debian's chromium package for the status-page test" >&2
  fi
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    echo "no compose validator found: installing docker-compose with apt-get" >&2
    apt_install docker-compose || echo "install docker compose (or docker-compose) for the compose test" >&2
  fi
}

# apt_quiet ARGS...: apt-get without its progress output, which is shown
# only when the command fails.
apt_quiet() {
  local out
  if ! out=$(DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l apt-get "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# Prints pgjdbc's jar (Debian's libpostgresql-jdbc-java), installing the
# package when it is missing, linked as target/driver-jdbc/postgresql.jar so
# a plain `cargo test` finds it later.
driver_jdbc_jar() {
  local jar link=target/driver-jdbc/postgresql.jar
  if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "no JDK found: installing default-jdk-headless with apt-get" >&2
      apt_quiet update -qq && apt_quiet install -y -qq --no-install-recommends default-jdk-headless || true
    fi
    if ! command -v javac >/dev/null 2>&1; then
      echo "java and javac (a JDK, 17 or later) are needed for the pgjdbc suite" >&2
      return 1
    fi
  fi
  jar=$(dpkg -L libpostgresql-jdbc-java 2>/dev/null | grep '/postgresql\.jar$' | head -n 1 || true)
  if [ -z "$jar" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "pgjdbc not found: installing libpostgresql-jdbc-java with apt-get" >&2
      # Quiet unless it fails; the package lists are refreshed only if needed.
      DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l \
        apt-get install -y -qq --no-install-recommends libpostgresql-jdbc-java >/dev/null 2>&1 \
        || { apt_quiet update -qq && apt_quiet install -y -qq --no-install-recommends libpostgresql-jdbc-java; } \
        || true
      jar=$(dpkg -L libpostgresql-jdbc-java 2>/dev/null | grep '/postgresql\.jar$' | head -n 1 || true)
    fi
    if [ -z "$jar" ]; then
      echo "pgjdbc is needed for its suite (Debian/Ubuntu: apt-get install libpostgresql-jdbc-java)" >&2
      return 1
    fi
  fi
  mkdir -p "$(dirname "$link")"
  ln -sfn "$jar" "$link"
  echo "$PWD/$link"
}

# Prints the directory holding node-postgres (target/driver-node, installed
# from npm at the version tests/drivers/package.json pins, when missing).
driver_node_dir() {
  local dir=target/driver-node want
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "no node/npm found: installing nodejs and npm with apt-get" >&2
      apt_quiet update -qq && apt_quiet install -y -qq --no-install-recommends nodejs npm || true
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
      echo "node and npm are needed for the node-postgres suite" >&2
      return 1
    fi
  fi
  want=$(node -p 'require("./tests/drivers/package.json").dependencies.pg')
  if [ "$(node -p "try { require('./$dir/node_modules/pg/package.json').version } catch (e) { '' }")" != "$want" ]; then
    echo "installing node-postgres $want from npm into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp tests/drivers/package.json "$dir/"
    (cd "$dir" && npm install --no-audit --no-fund --silent >&2)
  fi
  echo "$PWD/$dir"
}

# Prints the directory holding PostgreSQL's own regression SQL files and the
# data files they load (target/pg-regress: sql/, data/, VERSION), for the
# installed server's major version. When missing, they are taken from
# Debian's source package of that version through a private apt
# configuration (the system's sources and lists are left alone); only the
# files the regression test needs are kept, none of them in the repository.
pg_regress_files() {
  local dest=$PWD/target/pg-regress bindir major suite tmp orig stage
  bindir=$(pg_bindir) || return 1
  major=$("$bindir/postgres" --version | sed -nE 's/^[^0-9]*([0-9]+).*/\1/p')
  if [ -f "$dest/VERSION" ] && [ "$(cut -d. -f1 "$dest/VERSION")" = "$major" ]; then
    echo "$dest"; return
  fi
  # The Debian release whose main archive ships this major version.
  case "$major" in
    13) suite=bullseye ;; 15) suite=bookworm ;; 17) suite=trixie ;;
    *) echo "no Debian release known to ship PostgreSQL $major: set PARTPROXY_PG_REGRESS or PARTPROXY_SKIP_PG_REGRESS=1" >&2; return 1 ;;
  esac
  echo "fetching PostgreSQL $major's regression files (Debian $suite source package postgresql-$major) into target/pg-regress" >&2
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/sources.list.d" "$tmp/cache/archives/partial" "$tmp/src"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$suite" > "$tmp/sources.list.d/src.sources"
  local apt=(apt-get -q -o "Dir::Etc::SourceParts=$tmp/sources.list.d" -o Dir::Etc::SourceList=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache")
  if ! "${apt[@]}" update >"$tmp/log" 2>&1 \
    || ! (cd "$tmp/src" && "${apt[@]}" source --download-only "postgresql-$major") >>"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    echo "could not fetch Debian's postgresql-$major source package: set PARTPROXY_PG_REGRESS or PARTPROXY_SKIP_PG_REGRESS=1" >&2
    rm -rf "$tmp"; return 1
  fi
  orig=$(ls "$tmp"/src/postgresql-"$major"_*.orig.tar.* | head -n 1)
  stage=$tmp/stage
  mkdir -p "$stage"
  # The SQL files, and the data files test_setup.sql and constraints.sql COPY.
  tar -xf "$orig" -C "$stage" --strip-components=4 --wildcards \
    '*/src/test/regress/sql/*.sql' \
    '*/src/test/regress/data/onek.data' '*/src/test/regress/data/tenk.data' \
    '*/src/test/regress/data/person.data' '*/src/test/regress/data/emp.data' \
    '*/src/test/regress/data/student.data' '*/src/test/regress/data/stud_emp.data' \
    '*/src/test/regress/data/streets.data' '*/src/test/regress/data/constro.data' \
    '*/src/test/regress/data/constrf.data'
  basename "$orig" | sed -E 's/^postgresql-[0-9]+_(.*)\.orig\.tar\..*/\1/' > "$stage/VERSION"
  # The server reads the data files itself (COPY FROM a file), as its own account.
  chmod -R a+rX "$stage"
  rm -rf "$dest"; mkdir -p "$(dirname "$dest")"; mv "$stage" "$dest"
  rm -rf "$tmp"
  echo "$dest"
}
