-- Inline media the sidecar found in committed rows: the trigger guard
-- (20261121002000_media_guard.sql) was bypassed (disabled trigger,
-- session_replication_role = replica) or the data predates it. Written only by the
-- sidecar (service_role or the database owner) from the change stream, one row per
-- (event, column, path), so reprocessing an event records it once. Admins read it
-- (policies/media_violations.sql); `sidecar media migrate` moves the values to Storage.
create table public.media_violations (
  id bigint generated always as identity primary key,
  event_key text not null,
  table_name text not null,
  row_id uuid,
  column_name text not null,
  path text not null,
  size integer not null,
  kind text not null,
  guessed_type text,
  reason text not null,
  source text,
  detected_at timestamptz not null default now(),
  constraint media_violations_event_column_path_key unique (event_key, column_name, path)
);
comment on table public.media_violations is
  'Inline media found by the sidecar in committed talent rows (the guard trigger was bypassed). Admins read; the sidecar writes.';
create index media_violations_row_idx on public.media_violations (table_name, row_id);
create index media_violations_detected_idx on public.media_violations (detected_at desc);

alter table public.media_violations enable row level security;
revoke all on table public.media_violations from anon, authenticated;
grant select on table public.media_violations to authenticated;
grant all on table public.media_violations to service_role;
