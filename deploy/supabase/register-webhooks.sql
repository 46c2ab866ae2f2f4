-- Registers the Supabase database webhook that tells the sidecar of every new change
-- record (an insert into sidecar.changes, written by trigger in each transaction
-- the sidecar must act on). It is the low-latency input for projects where the
-- replication connection cannot be reached (the session pooler, IPv4-only hosts).
--
-- A delivery is only a notice: the sidecar reads the records from the database, so
-- a lost delivery delays an effect until the next catch-up (CATCHUP_INTERVAL) and
-- loses nothing, and with replication on too each change still has one effect.
--
-- Usage (the secret comes from the environment, never from a committed file):
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 \
--     -v sidecar_url=https://sidecar.example.com \
--     -v webhook_secret="$WEBHOOK_SECRET" \
--     -f deploy/supabase/register-webhooks.sql
--
-- Re-running replaces the triggers (use it to rotate the secret or move the URL).
-- The triggers call supabase_functions.http_request(url, method, headers, params,
-- timeout_ms) — the function the dashboard's Database Webhooks use — which queues
-- the request in pg_net after commit: one attempt, no retry (at most once). The
-- webhooks then also show in the dashboard under Database > Webhooks.
--
-- Note: trigger arguments are stored in pg_trigger, so the secret is readable by
-- roles that can query the catalog over SQL (as with dashboard-made webhooks).

\set ON_ERROR_STOP on

\if :{?sidecar_url}
\else
  do $$ begin raise exception 'usage: psql -v sidecar_url=https://<sidecar host> -v webhook_secret=<WEBHOOK_SECRET> -f register-webhooks.sql'; end $$;
\endif
\if :{?webhook_secret}
\else
  do $$ begin raise exception 'webhook_secret is not set: pass -v webhook_secret="$WEBHOOK_SECRET"'; end $$;
\endif

select :'sidecar_url' ~ '^https?://[^[:space:]/?#]+(/[^[:space:]?#]*)?$' as url_ok,
       length(:'webhook_secret') >= 16 as secret_ok,
       to_regprocedure('supabase_functions.http_request()') is not null as hooks_ok
\gset

\if :url_ok
\else
  do $$ begin raise exception 'sidecar_url must be an http(s) base URL such as https://sidecar.example.com (no query string)'; end $$;
\endif
\if :secret_ok
\else
  do $$ begin raise exception 'webhook_secret must be at least 16 characters, like WEBHOOK_SECRET'; end $$;
\endif
\if :hooks_ok
\else
  do $$ begin raise exception 'supabase_functions.http_request() does not exist: enable Database Webhooks in the dashboard (Database > Webhooks) first; on a local plain Postgres there is no pg_net'; end $$;
\endif

begin;

-- One trigger, on the change records (the sidecar's catalogue: change.Records),
-- named so remove-webhooks.sql and the dashboard find it. Releases before the
-- change record registered one per talent table; those are removed.
select format('drop trigger if exists talent_sidecar_webhook on public.%I', t)
from unnest(array['talent_profiles', 'email_settings', 'email_templates']) as t
\gexec

select format(
         'drop trigger if exists talent_sidecar_webhook on %I.%I', s, t),
       format(
         'create trigger talent_sidecar_webhook after insert on %I.%I '
         'for each row execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
         s, t,
         rtrim(:'sidecar_url', '/') || '/webhooks/supabase',
         'POST',
         jsonb_build_object('Content-Type', 'application/json',
                            'Authorization', 'Bearer ' || :'webhook_secret')::text,
         '{}',
         '5000')
from (values ('sidecar', 'changes')) as w(s, t)
\gexec

commit;

select c.relname as "table", tg.tgname as "trigger"
from pg_trigger tg join pg_class c on c.oid = tg.tgrelid
where tg.tgname = 'talent_sidecar_webhook'
order by 1;
