#!/usr/bin/env bash
# make test: brings the local database up (installing what is missing), then runs
# the pgTAP suite with pg_prove, the Supabase CLI checks (migration list, db lint,
# db advisors), the frontend contract (generated types current, supabase/examples
# compiling), the Go tests, and the operator's files (deploy/k8s rendered and checked
# against Kubernetes' own types; the alert rules checked and unit-tested with promtool).
# The Go tests include the container image (make image), run with podman.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
what="${1:-all}"

# `ops` needs no database.
if [ "$what" != ops ]; then
  URL="$(scripts/db.sh up | tail -n1)"
  # Go tests find the cluster through TEST_DATABASE_URL (sidecar/internal/testdb).
  export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$URL}"
fi
PGPORT="${PGPORT:-54322}"
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

# The image the Go tests run (sidecar/internal/imagetest): built once, here, with
# podman installed first when missing; the tests read the archive's path.
build_image() {
  echo "== make image (scripts/image.sh)"
  SIDECAR_IMAGE_ARCHIVE="$(scripts/image.sh | tail -n1)"
  export SIDECAR_IMAGE_ARCHIVE
}

run_go() {
  build_image
  echo "== go test ./..."
  go test -count=1 -timeout 40m ./...
}

run_image() {
  build_image
  echo "== go test ./sidecar/internal/imagetest (the image with podman run and podman kube play)"
  go test -count=1 -v -timeout 10m ./sidecar/internal/imagetest
}

ensure_promtool() {
  command -v promtool >/dev/null && return
  echo "== installing promtool (Debian's prometheus package)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package enables a Prometheus server (:9090) and starts it where services may
  # start; only promtool is wanted here, so stop and disable the server it installed.
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  else
    $sudo service prometheus stop >/dev/null 2>&1 || true
    $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
}

run_ops() {
  # tools/k8scheck is its own Go module (kustomize and k8s.io/api stay out of the
  # root go.mod; the root's ./... does not descend into it). Go fetches its modules.
  echo "== deploy/k8s: kustomize render + strict decode into Kubernetes types (tools/k8scheck)"
  mkdir -p "$ROOT/.local"
  (cd tools/k8scheck && go test -count=1 ./... && go run . -dir ../../deploy/k8s -o "$ROOT/.local/k8s-rendered.yaml")
  ensure_promtool
  echo "== alert rules: promtool check rules + promtool test rules (deploy/prometheus)"
  promtool check rules deploy/prometheus/talent-sidecar.rules.yml
  promtool test rules deploy/prometheus/talent-sidecar.rules_test.yml
}

case "$what" in
  all) ensure_promtool; run_sql; run_cli; run_types; run_go; run_ops ;;
  sql) run_sql ;;
  cli) run_cli ;;
  types) run_types ;;
  go) ensure_promtool; run_go ;;
  ops) run_ops ;;
  image) run_image ;;
  *) echo "usage: $0 {all|sql|cli|types|go|ops|image}" >&2; exit 2 ;;
esac
