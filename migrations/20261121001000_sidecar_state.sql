-- Sidecar internals: events it could not handle. Admins may read them (policy in
-- policies/sidecar_dead_letters.sql); only the sidecar writes.
create table public.sidecar_dead_letters (
  id bigint generated always as identity primary key,
  source text not null,
  idempotency_key text not null,
  table_name text,
  operation text,
  reason text not null,
  payload jsonb,
  commit_lsn pg_lsn,
  created_at timestamptz not null default now(),
  constraint sidecar_dead_letters_idempotency_key_key unique (idempotency_key)
);
comment on table public.sidecar_dead_letters is
  'Row changes the sidecar could not turn into effects, with the reason. The stream moves on.';
alter table public.sidecar_dead_letters enable row level security;
revoke all on table public.sidecar_dead_letters from anon, authenticated;
grant select on table public.sidecar_dead_letters to authenticated;
grant all on table public.sidecar_dead_letters to service_role;
