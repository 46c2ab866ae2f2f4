-- admin_bulk_update as the specification's BulkOperation: approve | reject | delete |
-- activate | deactivate (and reopen), with an optional reason for every action.
--
-- The reason is set for the transaction as talent.action_reason before the rows
-- change, so whatever records the change in that transaction (the change-record
-- trigger) can read it with current_setting('talent.action_reason', true); '' means
-- no reason. reject also stores it as rejection_reason, which the state machine
-- requires. delete is for super admins alone: an admin's call is refused (42501)
-- before anything changes, instead of deleting zero rows through RLS. The service
-- role may call it too (the README always said so; the first version refused it).
create or replace function public.admin_bulk_update(ids uuid[], action text, reason text default null)
returns setof public.talent_profiles
language plpgsql
security invoker
set search_path = ''
as $$
declare
  via_api boolean;
  target text;
  found_count integer;
begin
  -- API callers must be admins; the service role and ops sessions may call it too
  -- (the state machine still applies; they are stamped as nobody).
  via_api := current_user in ('anon', 'authenticated');
  if via_api and not (select private.is_admin()) then
    raise exception 'admin_bulk_update is for admins only' using errcode = '42501';
  end if;
  if ids is null or cardinality(ids) = 0 then
    raise exception 'ids must name at least one talent profile' using errcode = '22023';
  end if;
  if cardinality(ids) > 1000 then
    raise exception 'at most 1000 profiles per bulk update, got %', cardinality(ids) using errcode = '22023';
  end if;
  target := case action
    when 'approve' then 'approved'
    when 'reject' then 'rejected'
    when 'activate' then 'active'
    when 'deactivate' then 'inactive'
    when 'reopen' then 'draft'
    when 'delete' then 'deleted'
  end;
  if target is null then
    raise exception 'unknown bulk action %', coalesce(action, 'null')
      using errcode = '22023', hint = 'Use approve, reject, delete, activate, deactivate or reopen.';
  end if;
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
comment on function public.admin_bulk_update(uuid[], text, text) is
  'Bulk review by an admin: approve, reject (reason required), delete (super admins), activate, deactivate, reopen. '
  'All or nothing. The reason is set as talent.action_reason for the transaction.';
