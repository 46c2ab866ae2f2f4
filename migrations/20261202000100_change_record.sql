-- The durable change record: what the sidecar must act on, written by trigger in the
-- transaction that makes the change. Replication and webhooks only tell the sidecar
-- sooner that there is something new here; a stopped sidecar, a lost webhook or a
-- dropped slot delays effects and loses none, because the sidecar also reads the
-- records still pending on start and at a steady interval.
--
-- One record per change the sidecar acts on:
-- - talent_profiles: a status transition, an edit of admin_notes or rejection_reason
--   (by anyone: the state machine decides who may), and a delete;
-- - email_settings / email_templates: any change other than the sidecar's own
--   bookkeeping (applied_at, apply_error).
--
-- Records are claimed by the transaction that writes their effects (it sets
-- processed_at), so an effect and the record of its having happened commit
-- together: exactly once, whichever input said so, however many sidecars run.
-- Processed records are pruned by the sidecar after CHANGE_RETENTION.
--
-- Nothing here is reachable through PostgREST: the schema is not exposed, the API
-- roles have no privilege on it, and the trigger functions are security definer
-- with an empty search_path, so a client can neither read, write nor forge a record.
-- This replaces sidecar.talent_deletions, whose only purpose (who deleted a talent)
-- the record's actor now serves for every change.

create table sidecar.changes (
  id bigint generated always as identity primary key,
  -- The sidecar applies the records of one key in id order, one at a time:
  -- 'talent:<id>' for a talent, 'email_config' for the email configuration.
  row_key text not null,
  table_name text not null,
  op text not null,
  -- Who made the change, as the request's JWT and admin_users say at that moment.
  actor_id uuid,
  actor_role text not null,
  -- Why, when the changing transaction said (admin_bulk_update sets it).
  reason text,
  old_row jsonb,
  new_row jsonb,
  created_at timestamptz not null default now(),
  -- Where the WAL stood when the record was written; its commit comes after. A
  -- record at or past an active slot's confirmed position will reach that slot's
  -- reader, so the catch-up leaves it to the stream.
  lsn pg_lsn not null default pg_current_wal_insert_lsn(),
  processed_at timestamptz,
  constraint changes_op_check check (op in ('INSERT', 'UPDATE', 'DELETE')),
  constraint changes_actor_role_check
    check (actor_role in ('talent', 'admin', 'super_admin', 'authenticated', 'anon', 'service'))
);
comment on table sidecar.changes is
  'What the sidecar must act on, recorded by trigger in the changing transaction; processed_at is set by the transaction that commits the effects.';

-- Pending records by key, in order: the sidecar's claim and catch-up read this.
create index changes_pending_idx on sidecar.changes (row_key, id) where processed_at is null;
-- Pruning walks old records; a BRIN index costs nearly nothing to keep.
create index changes_created_at_brin on sidecar.changes using brin (created_at);

alter table sidecar.changes enable row level security;
revoke all on table sidecar.changes from public, anon, authenticated;
-- The sidecar (service_role, or the role ops give it) claims and prunes; only the
-- triggers below insert.
grant select, update (processed_at), delete on table sidecar.changes to service_role;

-- The actor of the current statement: the profile's own talent, an admin, a super
-- admin, another API caller, or 'service' for anything not through PostgREST's API
-- roles (ops, the service role, cascades from auth). Security definer functions see
-- PostgREST's `set local role` in the role setting, not in current_user.
--
-- It runs on every status change, so it is written for speed: PL/pgSQL with its own
-- query rather than a call of private.admin_role() (a SQL function called from
-- PL/pgSQL is parsed and planned again in every transaction), given the uid rather
-- than calling auth.uid() again, and without SECURITY DEFINER or a SET clause (each
-- costs a configuration save and restore per call). It is called only from the
-- security definer triggers below, which set the empty search_path, and nobody
-- else may execute it.
create function private.change_actor_role(owner uuid, uid uuid) returns text
language plpgsql stable
as $$
declare
  via text := current_setting('role', true);
  r text;
begin
  if via is null or via not in ('anon', 'authenticated') then
    return 'service';
  end if;
  if uid is not null and uid = owner then
    return 'talent';
  end if;
  select a.role into r from public.admin_users a where a.id = uid;
  return coalesce(r, via);
end
$$;
revoke all on function private.change_actor_role(uuid, uuid) from public;

-- The record keeps the part of a talent row the sidecar acts on: the audit snapshot,
-- the email variables, the owner (whose Storage folders a delete empties). Answers and
-- media URLs are not copied into it. The snapshot is built in place from the row's
-- fields: handing the whole row to a function, or copying it into a variable, builds
-- a composite of every column (10 KB of prose included) on every status change.
create function private.record_talent_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  o jsonb;
  n jsonb;
begin
  if tg_op <> 'INSERT' then
    o := jsonb_build_object(
      'id', old.id, 'user_id', old.user_id, 'status', old.status, 'name', old.name, 'email', old.email,
      'rejection_reason', old.rejection_reason, 'admin_notes', old.admin_notes,
      'submitted_at', old.submitted_at, 'approved_at', old.approved_at, 'activated_at', old.activated_at);
  end if;
  if tg_op <> 'DELETE' then
    n := jsonb_build_object(
      'id', new.id, 'user_id', new.user_id, 'status', new.status, 'name', new.name, 'email', new.email,
      'rejection_reason', new.rejection_reason, 'admin_notes', new.admin_notes,
      'submitted_at', new.submitted_at, 'approved_at', new.approved_at, 'activated_at', new.activated_at);
  end if;
  insert into sidecar.changes (row_key, table_name, op, actor_id, actor_role, reason, old_row, new_row)
  values ('talent:' || (coalesce(n, o)->>'id'), 'talent_profiles', tg_op, uid,
          private.change_actor_role((coalesce(n, o)->>'user_id')::uuid, uid),
          nullif(current_setting('talent.action_reason', true), ''), o, n);
  return null;
end
$$;
revoke all on function private.record_talent_change() from public;

-- Draft autosaves change none of these columns and cost only the WHEN test.
create trigger talent_profiles_record_change
  after update on public.talent_profiles
  for each row
  when (old.status is distinct from new.status
        or old.admin_notes is distinct from new.admin_notes
        or old.rejection_reason is distinct from new.rejection_reason)
  execute function private.record_talent_change();

create trigger talent_profiles_record_delete
  after delete on public.talent_profiles
  for each row execute function private.record_talent_change();

create function private.record_email_config_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  bookkeeping text[] := array['applied_at', 'apply_error', 'updated_at', 'updated_by'];
  o jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  n jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  uid uuid := auth.uid();
begin
  -- The sidecar's verdict coming back is not a change to act on.
  if tg_op = 'UPDATE' and (o - bookkeeping) = (n - bookkeeping) then
    return null;
  end if;
  insert into sidecar.changes (row_key, table_name, op, actor_id, actor_role, old_row, new_row)
  values ('email_config', tg_table_name, tg_op, uid, private.change_actor_role(null, uid), o, n);
  return null;
end
$$;
revoke all on function private.record_email_config_change() from public;

create trigger email_settings_record_change
  after insert or update or delete on public.email_settings
  for each row execute function private.record_email_config_change();
create trigger email_templates_record_change
  after insert or update or delete on public.email_templates
  for each row execute function private.record_email_config_change();

-- Which replication slots the sidecar has created, so that one found missing later
-- is known to be lost (dropped, invalidated, or absent after a failover) rather
-- than new, and said so loudly.
create table sidecar.replication_slots (
  slot_name text primary key,
  created_at timestamptz not null default now(),
  recreated_at timestamptz,
  times_lost integer not null default 0
);
alter table sidecar.replication_slots enable row level security;
revoke all on table sidecar.replication_slots from public, anon, authenticated;
grant select, insert, update on table sidecar.replication_slots to service_role;

-- The deletion tombstones are replaced by the records' actor.
drop trigger talent_profiles_before_delete on public.talent_profiles;
drop function private.talent_profiles_before_delete();
drop table sidecar.talent_deletions;
