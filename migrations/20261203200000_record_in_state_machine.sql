-- An admin's status change records itself inside the state machine (issue 24, part 3b).
--
-- Until now the change record of a talent_profiles update was written by its own AFTER
-- trigger (talent_profiles_record_change), whose WHEN clause decided which updates the
-- sidecar acts on. Per request that cost, besides the insert itself: Postgres reading
-- the stored WHEN clause back into an expression tree in every statement, queueing an
-- after-trigger event, a second trigger function call with its configuration save and
-- restore, and a second lookup of the actor (private.change_actor_role). The state
-- machine (private.talent_profiles_before_write) already runs for every update, knows
-- the actor and has just derived the row's timestamps, so it now writes the record
-- itself, through one security definer call (it runs as the caller, who may not touch
-- sidecar.changes).
--
-- A BEFORE trigger's record is exact: the trigger fires only for a row the update will
-- write (after any concurrent update has been waited for and re-checked), and a later
-- failure (the media guard refusing the row, a constraint) rolls the record back with
-- the statement. The snapshot is taken after the state machine has set the row's
-- derived columns; no other trigger changes those columns (the media guard, which runs
-- after it, only checks).
--
-- Deletes keep their AFTER DELETE trigger (private.record_talent_change), and the email
-- configuration its own triggers: neither is on a request path that matters.

-- Writes the record of one talent_profiles update. actor_role is the state machine's
-- answer (null when it cannot tell: then the role setting and admin_users decide, as
-- for every other record). Only a trigger may call it: the state machine runs as the
-- caller, so the roles that update profiles through the API hold EXECUTE (anon never
-- reaches a profile row: no policy lets it update one; the owner, postgres, needs no
-- grant), and a direct call (pg_trigger_depth() = 0) is refused. The private schema
-- is not exposed through PostgREST either.
create function private.record_talent_update(talent_id uuid, o jsonb, n jsonb, actor_role text, uid uuid)
returns void
language plpgsql security definer
set search_path = ''
as $$
begin
  if pg_trigger_depth() = 0 then
    raise exception 'change records are written by the talent_profiles trigger only'
      using errcode = '42501';
  end if;
  insert into sidecar.changes (row_key, table_name, op, actor_id, actor_role, reason, old_row, new_row)
  values ('talent:' || talent_id, 'talent_profiles', 'UPDATE', uid,
          coalesce(actor_role, private.change_actor_role((o->>'user_id')::uuid, uid)),
          nullif(current_setting('talent.action_reason', true), ''), o, n);
end
$$;
revoke all on function private.record_talent_update(uuid, jsonb, jsonb, text, uuid) from public;
grant execute on function private.record_talent_update(uuid, jsonb, jsonb, text, uuid)
  to authenticated, service_role;

drop trigger talent_profiles_record_change on public.talent_profiles;

-- The state machine, as migration 20261202100100 wrote it, plus the change record at
-- its end (between the two "change record" comments: the record benchmark removes
-- exactly that block to measure what the record costs), and the admin's role looked
-- up once (private.admin_role) where private.is_admin() was asked before.
create or replace function private.talent_profiles_before_write()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  uid uuid := auth.uid();
  via_api boolean := current_user in ('anon', 'authenticated');
  actor text;         -- 'talent', 'admin' or 'service'
  admin_role text;    -- the admin's role in admin_users, when actor = 'admin'
  needed text;
begin
  if tg_op = 'INSERT' then
    if via_api then
      if new.user_id is distinct from uid then
        raise exception 'a talent may create a profile only for themselves'
          using errcode = '42501';
      end if;
      if new.status is distinct from 'draft' then
        raise exception 'a new profile starts as a draft, not %', new.status
          using errcode = '42501', hint = 'Insert with status ''draft'' and submit it with an update.';
      end if;
      if new.admin_notes is not null or new.rejection_reason is not null then
        raise exception 'admin_notes and rejection_reason are set by admins only'
          using errcode = '42501';
      end if;
      if new.email is not null then
        perform private.talent_check_own_email(new.email, 'put an email address on a profile');
      end if;
      new.submitted_at := null;
      new.approved_at := null;
      new.activated_at := null;
      new.created_at := now();
    end if;
    new.row_version := 1;
    new.updated_at := now();
    new.updated_by := uid;
    return new;
  end if;

  -- UPDATE
  if new.id is distinct from old.id or new.user_id is distinct from old.user_id
     or new.created_at is distinct from old.created_at then
    raise exception 'id, user_id and created_at of a talent profile cannot change'
      using errcode = '42501';
  end if;

  if not via_api then
    actor := 'service';
  elsif old.user_id = uid then
    actor := 'talent';     -- an admin acting on their own profile is a talent, never a reviewer
  else
    admin_role := private.admin_role();   -- null for anyone not in admin_users
    if admin_role is null then
      raise exception 'not allowed to change this talent profile' using errcode = '42501';
    end if;
    actor := 'admin';
  end if;

  if actor = 'talent' then
    if old.status <> 'draft' then
      raise exception 'this profile is % and can no longer be edited by its talent', old.status
        using errcode = '42501',
              hint = 'A talent may edit a profile only while it is a draft.';
    end if;
    if new.admin_notes is distinct from old.admin_notes
       or new.rejection_reason is distinct from old.rejection_reason then
      raise exception 'admin_notes and rejection_reason are set by admins only'
        using errcode = '42501';
    end if;
    if new.email is not null and new.email is distinct from old.email then
      perform private.talent_check_own_email(new.email, 'put an email address on a profile');
    end if;
  elsif actor = 'admin' then
    if (new.name, new.email, new.phone, new.location, new.headshot_urls, new.video_sample_url,
        new.freeform_audio_url, new.tone_categories, new.personality_traits, new.custom_tone,
        new.predefined_answers, new.freeform_text, new.session_id, new.version)
       is distinct from
       (old.name, old.email, old.phone, old.location, old.headshot_urls, old.video_sample_url,
        old.freeform_audio_url, old.tone_categories, old.personality_traits, old.custom_tone,
        old.predefined_answers, old.freeform_text, old.session_id, old.version) then
      raise exception 'admins may change only status, admin_notes and rejection_reason'
        using errcode = '42501';
    end if;
  end if;

  if new.status is distinct from old.status then
    needed := private.talent_transition_actor(old.status, new.status);
    if needed is null then
      raise exception 'invalid status transition % -> %', old.status, new.status
        using errcode = '23514',
              detail = format('Allowed from %s: %s.', old.status, private.talent_allowed_next(old.status));
    end if;
    if actor <> 'service' and needed <> actor then
      raise exception 'only % may move a profile from % to %',
        case needed when 'admin' then 'an admin' else 'the profile''s talent' end,
        old.status, new.status
        using errcode = '42501';
    end if;
    if new.status = 'submitted' and actor = 'talent' and private.jwt_account_email() is null then
      perform private.talent_check_own_email(new.email, 'submit a profile');   -- raises
    end if;
    -- Blank means no visible character: btrim() would strip spaces only, not tabs or newlines.
    if new.status = 'submitted' and (coalesce(new.name, '') !~ '[^[:space:]]' or coalesce(new.email, '') !~ '[^[:space:]]') then
      raise exception 'cannot submit a profile without a name and an email'
        using errcode = '23514';
    end if;
    if new.status = 'submitted' and actor = 'talent' then
      -- Checked again at submission: the account's address may have changed since
      -- the draft took it.
      perform private.talent_check_own_email(new.email, 'submit a profile');
    end if;
    if new.status = 'rejected' and coalesce(new.rejection_reason, '') !~ '[^[:space:]]' then
      raise exception 'rejecting a profile needs a rejection_reason'
        using errcode = '23514';
    end if;
  end if;

  -- Timestamps are derived from the transition, never taken from the client.
  new.submitted_at := old.submitted_at;
  new.approved_at := old.approved_at;
  new.activated_at := old.activated_at;
  if new.status is distinct from old.status then
    case new.status
      when 'submitted' then new.submitted_at := now();
      when 'approved' then new.approved_at := now();
      when 'active' then new.activated_at := now();
      else null;
    end case;
  end if;
  new.row_version := old.row_version + 1;
  new.updated_at := now();
  new.updated_by := uid;

  -- change record: begin (the sidecar acts on status, admin_notes and rejection_reason;
  -- a draft autosave changes none of them and is not recorded)
  if new.status is distinct from old.status or new.admin_notes is distinct from old.admin_notes
     or new.rejection_reason is distinct from old.rejection_reason then
    perform private.record_talent_update(new.id,
      jsonb_build_object(
        'id', old.id, 'user_id', old.user_id, 'status', old.status, 'name', old.name, 'email', old.email,
        'rejection_reason', old.rejection_reason, 'admin_notes', old.admin_notes,
        'submitted_at', old.submitted_at, 'approved_at', old.approved_at, 'activated_at', old.activated_at),
      jsonb_build_object(
        'id', new.id, 'user_id', new.user_id, 'status', new.status, 'name', new.name, 'email', new.email,
        'rejection_reason', new.rejection_reason, 'admin_notes', new.admin_notes,
        'submitted_at', new.submitted_at, 'approved_at', new.approved_at, 'activated_at', new.activated_at),
      -- The actor as the record names it: decided above unless the caller's role
      -- setting and current_user disagree (inside a security definer function).
      case when (current_setting('role', true) in ('anon', 'authenticated')) is distinct from via_api then null
           when actor = 'admin' then admin_role
           else actor end,
      uid);
  end if;
  -- change record: end
  return new;
end
$function$;

