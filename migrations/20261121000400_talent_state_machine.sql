-- The status state machine, actor stamping and server-set timestamps for
-- talent_profiles. Everything the browser could forge is decided here.
--
-- Errors the browser sees (PostgREST maps SQLSTATE to HTTP status):
--   42501 insufficient_privilege -> 403: the caller may not make this change.
--   23514 check_violation        -> 400: the change is not a valid transition or is incomplete.

-- Allowed transitions: (from, to, who). 'talent' is the profile owner, 'admin' any admin.
create function private.talent_transition_actor(from_status text, to_status text) returns text
language sql immutable
set search_path = ''
as $$
  select case from_status || ' -> ' || to_status
    when 'draft -> submitted' then 'talent'
    when 'submitted -> approved' then 'admin'
    when 'submitted -> rejected' then 'admin'
    when 'approved -> active' then 'admin'
    when 'active -> inactive' then 'admin'
    when 'inactive -> active' then 'admin'
    when 'rejected -> draft' then 'admin'
  end
$$;

create function private.talent_allowed_next(from_status text) returns text
language sql immutable
set search_path = ''
as $$
  select coalesce(string_agg(t, ', ' order by t), 'none')
  from unnest(array['draft', 'submitted', 'approved', 'rejected', 'active', 'inactive']) t
  where private.talent_transition_actor(from_status, t) is not null
$$;

create function private.talent_profiles_before_write() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  via_api boolean := current_user in ('anon', 'authenticated');
  actor text;         -- 'talent', 'admin' or 'service'
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
      new.submitted_at := null;
      new.approved_at := null;
      new.activated_at := null;
      new.created_at := now();
    end if;
    new.version := 1;
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
  elsif (select private.is_admin()) then
    actor := 'admin';
  else
    raise exception 'not allowed to change this talent profile' using errcode = '42501';
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
  elsif actor = 'admin' then
    if (new.name, new.email, new.phone, new.location, new.headshot_urls, new.video_sample_url,
        new.freeform_audio_url, new.tone_categories, new.personality_traits, new.custom_tone,
        new.predefined_answers, new.freeform_text, new.session_id)
       is distinct from
       (old.name, old.email, old.phone, old.location, old.headshot_urls, old.video_sample_url,
        old.freeform_audio_url, old.tone_categories, old.personality_traits, old.custom_tone,
        old.predefined_answers, old.freeform_text, old.session_id) then
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
    -- Blank means no visible character: btrim() would strip spaces only, not tabs or newlines.
    if new.status = 'submitted' and (coalesce(new.name, '') !~ '[^[:space:]]' or coalesce(new.email, '') !~ '[^[:space:]]') then
      raise exception 'cannot submit a profile without a name and an email'
        using errcode = '23514';
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
  new.version := old.version + 1;
  new.updated_at := now();
  new.updated_by := uid;
  return new;
end
$$;

create trigger talent_profiles_before_write
  before insert or update on public.talent_profiles
  for each row execute function private.talent_profiles_before_write();
