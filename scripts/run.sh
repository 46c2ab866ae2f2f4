#!/usr/bin/env bash
# make run: the local database (or $DATABASE_URL) and the sidecar, in the foreground.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/db.sh up | tail -n1)"
  local_db=1
else
  local_db=0
fi
export DATABASE_URL
export SIDECAR_ADDR="${SIDECAR_ADDR:-127.0.0.1:8080}"
export EMAIL_PROVIDER="${EMAIL_PROVIDER:-file}"
export EMAIL_FILE_DIR="${EMAIL_FILE_DIR:-$ROOT/.local/emails}"
export WEBHOOK_SECRET="${WEBHOOK_SECRET:-local-webhook-secret-change-me}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
mkdir -p "$EMAIL_FILE_DIR"

cat <<MSG

  Talent onboarding, running locally
  ----------------------------------
  database      $DATABASE_URL
  sidecar       http://$SIDECAR_ADDR  (/healthz /readyz /metrics, POST /webhooks/supabase)
  emails        $EMAIL_FILE_DIR  (one .eml and one .html per email)
  webhook auth  Authorization: Bearer $WEBHOOK_SECRET

  Demo users (sign in by putting the id in the JWT sub claim; full list in supabase/seed.sql):
    00000000-0000-4000-a000-000000000001  superadmin@example.com   super_admin
    00000000-0000-4000-a000-000000000002  admin@example.com        admin
    00000000-0000-4000-b000-00000000000N  six talents, one per status (draft, submitted, approved,
                                          active, inactive, rejected); profile ids use c000 for b000

  Act as a demo user exactly as PostgREST would:
    psql "$DATABASE_URL"
    begin;
    set local role authenticated;
    select set_config('request.jwt.claims',
      '{"sub":"00000000-0000-4000-a000-000000000002","role":"authenticated"}', true);  -- the demo admin
    select id, name, status from talent_profiles;                  -- RLS: admins see everyone
    update talent_profiles set status = 'approved'
     where id = '00000000-0000-4000-c000-000000000002';          -- Lucas Moreau, submitted
    commit;

  Then watch the sidecar write the audit row and queue the approval email:
    psql "$DATABASE_URL" -c 'select action_type, talent_name, from_status, to_status, admin_user_id from admin_actions order by id desc limit 5'
    ls $EMAIL_FILE_DIR

  Ctrl-C stops the sidecar$( [ "$local_db" = 1 ] && echo "; the database keeps running (make db-stop stops it)").

MSG
exec "$ROOT/bin/sidecar"
