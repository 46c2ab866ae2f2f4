-- The admin audit log. Written only by the sidecar (service_role) from committed
-- changes; admins read it. It outlives the talent it describes.
create table public.admin_actions (
  id bigint generated always as identity primary key,
  talent_profile_id uuid references public.talent_profiles (id) on delete set null,
  action_type text not null,
  action_reason text,
  admin_user_id uuid,
  from_status text,
  to_status text,
  talent_email text,
  talent_name text,
  source text not null,
  idempotency_key text not null,
  committed_at timestamptz,
  created_at timestamptz not null default now(),
  constraint admin_actions_idempotency_key_key unique (idempotency_key),
  constraint admin_actions_action_type_check
    check (action_type in ('approve', 'reject', 'activate', 'deactivate', 'reopen', 'delete')),
  constraint admin_actions_source_check check (source in ('replication', 'webhook'))
);
comment on table public.admin_actions is
  'Audit log of admin actions on talents, one row per row change, written by the sidecar.';
comment on column public.admin_actions.idempotency_key is
  'Derived from the row change itself, so the same change seen twice (or by both inputs) logs once.';

alter table public.admin_actions enable row level security;
revoke all on table public.admin_actions from anon, authenticated;
grant select on table public.admin_actions to authenticated;
grant all on table public.admin_actions to service_role;
create index admin_actions_talent_profile_idx on public.admin_actions (talent_profile_id);
create index admin_actions_created_idx on public.admin_actions (created_at desc);
create index admin_actions_admin_user_idx on public.admin_actions (admin_user_id);
