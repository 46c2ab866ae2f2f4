#!/usr/bin/env bash
# The local Supabase-shaped Postgres: no Docker, a private cluster under .local/.
#
#   scripts/db.sh up        install what is missing, start (or reuse) the cluster,
#                           bootstrap, push migrations with the Supabase CLI, seed,
#                           refresh the test template; prints the URL as its last line
#   scripts/db.sh stop      stop the cluster
#   scripts/db.sh reset     stop and delete the cluster (next 'up' starts from nothing)
#   scripts/db.sh cli ...   run the pinned Supabase CLI (npm, tools/supabase)
#   scripts/db.sh install   install packages and the CLI only
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOCAL="$ROOT/.local"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
PGPORT="${PGPORT:-54322}"
# The cluster lives in .local/pg, unless this checkout sits where the postgres OS user
# cannot reach (a clone under /root, say): then in a private directory under /var/tmp.
PGROOT="$LOCAL/pg"
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
  PGROOT="/var/tmp/talent-onboarding-pg-$(echo "$ROOT" | sha256sum | cut -c1-12)"
fi
PGDATA="$PGROOT/data"
PGSOCK="$PGROOT/sock"
PGLOG="$PGROOT/postgres.log"
CLI_DIR="$ROOT/tools/supabase"
CLI="$CLI_DIR/node_modules/supabase/dist/supabase.js"
DB_URL="postgresql://postgres:postgres@127.0.0.1:$PGPORT/postgres"
TEMPLATE_DB="talent_template"

log() { echo "db: $*" >&2; }
# shellcheck source=scripts/node.sh
. "$ROOT/scripts/node.sh"

# Postgres refuses to run as root: as root, run cluster commands as 'postgres'.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_su() { PGOPTIONS="-c client_min_messages=warning" PGPASSWORD=postgres psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }

install_packages() {
  local need=()
  [ -x "$PGBIN/pg_ctl" ] || need+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/pgtap.control ] || need+=(postgresql-15-pgtap)
  [ -f /usr/share/postgresql/15/extension/plpgsql_check.control ] || need+=(postgresql-15-plpgsql-check)
  command -v pg_prove >/dev/null || need+=(libtap-parser-sourcehandler-pgtap-perl)
  command -v psql >/dev/null || need+=(postgresql-client-15)
  [ -f /usr/lib/postgresql/15/lib/wal2json.so ] || need+=(postgresql-15-wal2json)
  # The network-failure tests run the sidecar in a network namespace and drop its packets.
  command -v ip >/dev/null || need+=(iproute2)
  command -v iptables >/dev/null || need+=(iptables)
  # Tests start their own pgbouncer, in transaction and session mode (sessioncheck).
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian's package starts its own cluster on 5432; ours is private, so stop theirs.
    $sudo pg_ctlcluster 15 main stop 2>/dev/null || true
    # Debian's pgbouncer may start its own service on 6432; the tests run theirs.
    $sudo service pgbouncer stop >/dev/null 2>&1 || true
  fi
}

# The Supabase CLI from npm (version in tools/supabase/package-lock.json): the package
# runs the Linux binary that its optional dependency @supabase/cli-linux-<arch> carries.
install_cli() {
  ensure_node
  npm_ci "$CLI_DIR"
}

cli() { (cd "$ROOT" && node "$CLI" "$@"); }

start_cluster() {
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "creating a private cluster in $PGDATA"
    mkdir -p "$PGDATA" "$PGSOCK"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$PGROOT"
    chmod 700 "$PGDATA"
    local pwfile="$PGROOT/pwfile"
    echo postgres > "$pwfile"; [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" -A scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >> "$PGDATA/postgresql.conf" <<CONF
# talent-onboarding local cluster
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGSOCK'
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
max_connections = 200
max_slot_wal_keep_size = 4GB
shared_buffers = 256MB
wal_keep_size = 0
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
# As on a hosted project: per-statement figures in pg_stat_statements (docs/performance.md, "Where the drain's time goes").
shared_preload_libraries = 'pg_stat_statements'
CONF
    cat > "$PGDATA/pg_hba.conf" <<HBA
local   all           all                     trust
host    all           all       127.0.0.1/32  scram-sha-256
host    replication   all       127.0.0.1/32  scram-sha-256
HBA
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "starting Postgres on 127.0.0.1:$PGPORT"
    # 9>&-: the server must not inherit the lock of `up`, or it would hold it for its lifetime.
    # -p: the port is PGPORT's even for a cluster created with another one.
    # MALLOC_*: glibc's malloc hands the free top of a backend's heap back to the kernel
    # once it passes 128 KB and takes page faults to get it back; whether a backend's
    # transactions free that much at their end depends on how its heap happens to lie,
    # and one that does pays in every transaction (BenchmarkGuardWrites saw one side's
    # CPU per write more than double, at random: docs/performance.md, "The heap that
    # came and went"). Fixed thresholds keep the two sides of a benchmark alike.
    as_pg env MALLOC_TRIM_THRESHOLD_=33554432 MALLOC_MMAP_THRESHOLD_=33554432 \
      "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -o "-p $PGPORT" -w -t 60 start >/dev/null 9>&-
  fi
}

migrations_hash() {
  cat "$ROOT"/supabase/local/bootstrap.sql "$ROOT"/migrations/*.sql | sha256sum | cut -c1-16
}

# bootstrap + CLI push into one database
migrate() {
  local db="$1"
  psql_su -d "$db" -f "$ROOT/supabase/local/bootstrap.sql" >/dev/null
  cli db push --include-all --yes --remote="postgresql://postgres:postgres@127.0.0.1:$PGPORT/$db?sslmode=disable" >&2 </dev/null
}

refresh_template() {
  local want have
  want="$(migrations_hash)"
  have="$(psql_su -d postgres -Atc "select shobj_description(oid, 'pg_database') from pg_database where datname = '$TEMPLATE_DB'")"
  if [ "$have" != "$want" ]; then
    log "building the test template database $TEMPLATE_DB"
    psql_su -d postgres -c "drop database if exists $TEMPLATE_DB with (force)" >/dev/null
    psql_su -d postgres -c "drop database if exists ${TEMPLATE_DB}_building with (force)" >/dev/null
    psql_su -d postgres -c "create database ${TEMPLATE_DB}_building" >/dev/null
    migrate "${TEMPLATE_DB}_building"
    psql_su -d postgres -c "alter database ${TEMPLATE_DB}_building rename to $TEMPLATE_DB" >/dev/null
    psql_su -d postgres -c "comment on database $TEMPLATE_DB is '$want'" >/dev/null
  fi
}

up() {
  # Several `make db` / `make test` may run at once (parallel work, editors): one at a time.
  mkdir -p "$LOCAL"
  exec 9>"$LOCAL/db.lock"
  flock 9
  install_packages
  install_cli
  start_cluster
  migrate postgres
  psql_su -d postgres -f "$ROOT/supabase/seed.sql" >/dev/null
  refresh_template
  echo "$DB_URL"
}

case "${1:-up}" in
  up) up ;;
  install) install_packages; install_cli ;;
  stop) as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; log "stopped" ;;
  reset)
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PGROOT"; log "cluster deleted" ;;
  cli)
    shift
    # Installing takes the lock `up` holds, so parallel runs never npm ci at once.
    mkdir -p "$LOCAL"; exec 9>"$LOCAL/db.lock"; flock 9; install_cli; exec 9>&-
    cd "$ROOT" && exec node "$CLI" "$@" ;;
  url) echo "$DB_URL" ;;
  hash) migrations_hash ;;
  *) echo "usage: $0 {up|stop|reset|cli ...|install|url}" >&2; exit 2 ;;
esac
