-- Closed sets as Postgres enums, so the database's own types say what it enforces.
--
-- Until now the closed sets were `text` columns with check constraints. Both refuse
-- the same values, but only an enum reaches the frontend's generated TypeScript
-- (`make types`, postgres-meta): an enum becomes a string union, `text` with a check
-- becomes `string`. The labels are those of the checks this migration replaces; the
-- order of talent_status is the lifecycle's (it is the sort order of `order by status`).
--
-- What changes for callers: a value outside the set is refused with 22P02
-- (invalid_text_representation, PostgREST: HTTP 400) instead of 23514; comparisons with
-- literals (`status = 'draft'`, `in (...)`) work as before; a value that is typed `text`
-- (a variable, a `$1::text[]` element) must be cast to the enum to be compared with or
-- stored in one of these columns.

create type public.talent_status as enum
  ('draft', 'submitted', 'approved', 'rejected', 'active', 'inactive');
comment on type public.talent_status is
  'A talent profile''s status; the transitions between them are the state machine''s (talent_profiles_before_write).';

create type public.admin_role as enum ('admin', 'super_admin');
comment on type public.admin_role is 'What an admin may do: super_admin may also delete talents.';

create type public.admin_action_type as enum
  ('approve', 'reject', 'activate', 'deactivate', 'reopen', 'delete', 'edit', 'resend_email');
comment on type public.admin_action_type is 'An admin action in the audit log (admin_actions.action_type).';

create type public.email_type as enum
  ('welcome', 'admin_new_submission', 'approval', 'rejection', 'activation', 'deactivation');
comment on type public.email_type is 'Which email: one template each (email_templates.name).';

create type public.email_status as enum ('queued', 'sent', 'delivered', 'failed', 'bounced');
comment on type public.email_status is 'Where an email is: queued by the sidecar, sent, then delivered or bounced; or failed.';

-- The actions admin_bulk_update performs (the specification's BulkOperation, and reopen).
create type public.admin_bulk_action as enum ('approve', 'reject', 'delete', 'activate', 'deactivate', 'reopen');
comment on type public.admin_bulk_action is 'What admin_bulk_update does to every profile it names.';

-- Dependents that a change of column type cannot carry over: the checks (enums make
-- them redundant), defaults and the partial index compare with `text`; the one policy
-- on these columns (policies may not survive a type change) is dropped here and made
-- again from policies/ by the generated migration that follows this one.
alter table public.talent_profiles drop constraint talent_profiles_status_check;
alter table public.admin_users drop constraint admin_users_role_check;
alter table public.admin_actions drop constraint admin_actions_action_type_check;
alter table public.email_notifications drop constraint email_notifications_status_check;
alter table public.email_notifications drop constraint email_notifications_email_type_check;
alter table public.email_templates drop constraint email_templates_name_check;
drop index public.email_notifications_due_idx;
drop policy email_notifications_select on public.email_notifications;
-- The change record's trigger names status in its WHEN clause; it is made again below.
drop trigger talent_profiles_record_change on public.talent_profiles;

alter table public.talent_profiles
  alter column status drop default,
  alter column status type public.talent_status using status::public.talent_status,
  alter column status set default 'draft';

alter table public.admin_users
  alter column role drop default,
  alter column role type public.admin_role using role::public.admin_role,
  alter column role set default 'admin';

alter table public.admin_actions
  alter column action_type type public.admin_action_type using action_type::public.admin_action_type,
  alter column from_status type public.talent_status using from_status::public.talent_status,
  alter column to_status type public.talent_status using to_status::public.talent_status;

alter table public.email_notifications
  alter column status drop default,
  alter column status type public.email_status using status::public.email_status,
  alter column status set default 'queued',
  alter column email_type type public.email_type using email_type::public.email_type;

alter table public.email_templates
  alter column name type public.email_type using name::public.email_type;

create index email_notifications_due_idx on public.email_notifications (next_attempt_at) where status = 'queued';

create trigger talent_profiles_record_change
  after update on public.talent_profiles
  for each row
  when (old.status is distinct from new.status
        or old.admin_notes is distinct from new.admin_notes
        or old.rejection_reason is distinct from new.rejection_reason)
  execute function private.record_talent_change();

-- The state machine's helpers take text; the trigger calls them with the columns, so
-- give them talent_status overloads (the trigger itself is unchanged).
create function private.talent_transition_actor(from_status public.talent_status, to_status public.talent_status)
returns text
language sql immutable
set search_path = ''
as $$
  select private.talent_transition_actor(from_status::text, to_status::text)
$$;

create function private.talent_allowed_next(from_status public.talent_status) returns text
language sql immutable
set search_path = ''
as $$
  select private.talent_allowed_next(from_status::text)
$$;

-- admin_bulk_update as the specification's BulkOperation: approve | reject | delete |
-- activate | deactivate (and reopen), with an optional reason for every action, and
-- the action an enum, so a client (and its generated types) can name only the
-- actions it performs.
--
-- The reason is set for the transaction as talent.action_reason before the rows
-- change, so the change-record trigger (20261202000100) puts it in each row's record;
-- '' means none. reject also stores it as rejection_reason, which the state machine
-- requires. delete is for super admins alone: an admin's call is refused (42501)
-- before anything changes, instead of deleting zero rows through RLS. The service
-- role may call it too.
drop function public.admin_bulk_update(uuid[], text, text);
create function public.admin_bulk_update(ids uuid[], action public.admin_bulk_action, reason text default null)
returns setof public.talent_profiles
language plpgsql
security invoker
set search_path = ''
as $$
declare
  via_api boolean := current_user in ('anon', 'authenticated');
  target public.talent_status;
  found_count integer;
begin
  -- API callers must be admins; the service role and ops sessions may call it too
  -- (the state machine still applies).
  if via_api and not (select private.is_admin()) then
    raise exception 'admin_bulk_update is for admins only' using errcode = '42501';
  end if;
  if ids is null or cardinality(ids) = 0 then
    raise exception 'ids must name at least one talent profile' using errcode = '22023';
  end if;
  if cardinality(ids) > 1000 then
    raise exception 'at most 1000 profiles per bulk update, got %', cardinality(ids) using errcode = '22023';
  end if;
  if action is null then
    raise exception 'unknown bulk action null'
      using errcode = '22023', hint = 'Use approve, reject, delete, activate, deactivate or reopen.';
  end if;
  target := case action
    when 'approve' then 'approved'::public.talent_status
    when 'reject' then 'rejected'
    when 'activate' then 'active'
    when 'deactivate' then 'inactive'
    when 'reopen' then 'draft'
  end;
  if length(reason) > 2000 then
    raise exception 'reason is too long (% characters, at most 2000)', length(reason) using errcode = '22023';
  end if;
  if action = 'delete' and via_api and not (select private.is_super_admin()) then
    raise exception 'only a super admin may delete talent profiles'
      using errcode = '42501', hint = 'Deactivate or reject the profiles instead.';
  end if;
  select count(*) into found_count from public.talent_profiles p where p.id = any (ids);
  if found_count <> (select count(distinct i) from unnest(ids) i) then
    raise exception 'some ids do not name a talent profile' using errcode = '22023';
  end if;

  -- The change record of each row reads it (talent.action_reason; '' is none).
  perform set_config('talent.action_reason', coalesce(reason, ''), true);

  if action = 'delete' then
    return query
      delete from public.talent_profiles p
       where p.id = any (ids)
      returning p.*;
    return;
  end if;
  return query
    update public.talent_profiles p
       set status = target,
           rejection_reason = case when action = 'reject' then reason else p.rejection_reason end
     where p.id = any (ids)
    returning p.*;
end
$$;
comment on function public.admin_bulk_update(uuid[], public.admin_bulk_action, text) is
  'Bulk review: approve, reject (reason required), delete (super admins), activate, deactivate, reopen; '
  'one row change (and so one audit row) per talent; all or nothing. The reason is set as talent.action_reason.';
revoke all on function public.admin_bulk_update(uuid[], public.admin_bulk_action, text) from public, anon;
grant execute on function public.admin_bulk_update(uuid[], public.admin_bulk_action, text) to authenticated, service_role;
