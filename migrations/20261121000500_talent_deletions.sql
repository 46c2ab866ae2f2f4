-- Deleting a talent removes the row, so the change stream cannot read the actor from
-- it. A before-delete trigger records who deleted it, in the deleting transaction,
-- where both sidecar inputs (replication and webhooks) can find it after commit.
-- The schema is not exposed to PostgREST; only the sidecar (service_role) reads it.
create schema if not exists sidecar;
revoke all on schema sidecar from public;
grant usage on schema sidecar to service_role;

create table sidecar.talent_deletions (
  talent_profile_id uuid primary key,
  deleted_by uuid,
  deleted_role text not null,
  deleted_at timestamptz not null default now(),
  xid xid8 not null default pg_current_xact_id()
);
comment on table sidecar.talent_deletions is
  'Who deleted each talent profile, written by trigger in the deleting transaction.';
alter table sidecar.talent_deletions enable row level security;
grant select on table sidecar.talent_deletions to service_role;

create function private.talent_profiles_before_delete() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into sidecar.talent_deletions (talent_profile_id, deleted_by, deleted_role)
  values (old.id, auth.uid(), session_user::text || '/' || current_setting('role'))
  on conflict (talent_profile_id) do nothing;
  return old;
end
$$;
revoke all on function private.talent_profiles_before_delete() from public;

create trigger talent_profiles_before_delete
  before delete on public.talent_profiles
  for each row execute function private.talent_profiles_before_delete();
