-- private.record_talent_change records a talent's delete only (issue 24 review).
--
-- Since migration 20261203200000 the state machine records a talent's updates, and
-- this function's trigger (talent_profiles_record_delete) fires on deletes alone; its
-- branches for an insert's and an update's new row could no longer run. Same record
-- as before for a delete: the old row's snapshot (the keys the state machine's
-- record also writes; sidecar/internal/pipeline's talentSnapshot names them and a
-- test compares both kinds of record with it), the actor as the role setting and
-- admin_users say, and the transaction's reason.

create or replace function private.record_talent_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if tg_op <> 'DELETE' then
    raise exception 'private.record_talent_change records deletes; a talent''s update is recorded by the state machine'
      using errcode = '39P01';
  end if;
  insert into sidecar.changes (row_key, table_name, op, actor_id, actor_role, reason, old_row)
  values ('talent:' || old.id, 'talent_profiles', 'DELETE', uid,
          private.change_actor_role(old.user_id, uid),
          nullif(current_setting('talent.action_reason', true), ''),
          jsonb_build_object(
            'id', old.id, 'user_id', old.user_id, 'status', old.status, 'name', old.name, 'email', old.email,
            'rejection_reason', old.rejection_reason, 'admin_notes', old.admin_notes,
            'submitted_at', old.submitted_at, 'approved_at', old.approved_at, 'activated_at', old.activated_at));
  return null;
end
$$;
revoke all on function private.record_talent_change() from public;
