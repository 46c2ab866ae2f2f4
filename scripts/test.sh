#!/usr/bin/env bash
# make test: brings the local database up (installing what is missing), then runs
# the pgTAP suite with pg_prove, the Supabase CLI checks (migration list, db lint,
# db advisors), the frontend contract (generated types current, supabase/examples
# compiling) and the Go tests.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
what="${1:-all}"

URL="$(scripts/db.sh up | tail -n1)"
PGPORT="${PGPORT:-54322}"
# Go tests find the cluster through TEST_DATABASE_URL (sidecar/internal/testdb).
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$URL}"
export PGPASSWORD=postgres

run_sql() {
  # pgTAP runs in its own clone of the migrated template, with the seed loaded, so
  # tests see exactly what `make db` gives a developer.
  local db=pgtap_run
  psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "drop database if exists $db with (force)" -c "create database $db template talent_template" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d $db -c "create extension if not exists pgtap with schema extensions" -f supabase/seed.sql >/dev/null
  echo "== pgTAP (pg_prove supabase/tests/database)"
  PGOPTIONS="-c search_path=public,extensions" pg_prove -h 127.0.0.1 -p "$PGPORT" -U postgres -d $db --ext .sql -r supabase/tests/database
}

run_cli() {
  # The CLI warns on a connection without TLS unless told that is intended (local only).
  local db="$URL?sslmode=disable"
  echo "== supabase migration list --remote=<url>"
  local out
  out="$(scripts/db.sh cli migration list --remote="$db" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')"
  echo "$out"
  local missing=0
  for f in migrations/*.sql; do
    v="$(basename "$f" | cut -c1-14)"
    if ! grep -Eq "\`?$v\`?[[:space:]]*(\||│)[[:space:]]*\`?$v\`?" <<<"$out"; then
      echo "migration $v is not applied (local and remote columns differ)" >&2; missing=1
    fi
  done
  [ "$missing" = 0 ] || exit 1
  echo "== supabase db lint --remote=<url> --fail-on error"
  scripts/db.sh cli db lint --remote="$db" --fail-on error --level warning
  # Supabase's Security and Performance Advisor lints, as the dashboard shows them.
  echo "== supabase db advisors --remote=<url> --fail-on warn"
  scripts/db.sh cli db advisors --remote="$db" --type all --level warn --fail-on warn
}

run_types() {
  echo "== supabase/types/database.ts is what the migrations produce (scripts/types.sh check)"
  scripts/types.sh check
  echo "== supabase/examples compile against it (tsc --noEmit, strict)"
  scripts/types.sh tsc
}

run_go() {
  echo "== go test ./..."
  go test -count=1 -timeout 40m ./...
}

case "$what" in
  all) run_sql; run_cli; run_types; run_go ;;
  sql) run_sql ;;
  cli) run_cli ;;
  types) run_types ;;
  go) run_go ;;
  *) echo "usage: $0 {all|sql|cli|types|go}" >&2; exit 2 ;;
esac
