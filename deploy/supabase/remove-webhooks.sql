-- Removes the webhooks register-webhooks.sql created (decommissioning, or when the
-- replication input alone is wanted). Safe to run more than once.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/supabase/remove-webhooks.sql

\set ON_ERROR_STOP on
begin;
drop trigger if exists talent_sidecar_webhook on sidecar.changes;
-- (on the talent tables: registered by releases before the change record)
drop trigger if exists talent_sidecar_webhook on public.talent_profiles;
drop trigger if exists talent_sidecar_webhook on public.email_settings;
drop trigger if exists talent_sidecar_webhook on public.email_templates;
commit;

select count(*) as webhooks_left from pg_trigger where tgname = 'talent_sidecar_webhook';
