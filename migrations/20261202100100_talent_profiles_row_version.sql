-- talent_profiles.version is the draft format version the frontend writes (PON-47:
-- `version VARCHAR(20) DEFAULT '1.0.0'`). The integer the state machine bumps on every
-- write, which names a change for the sidecar, is now row_version.
--
-- The same rewrite of the state machine ties a profile's email to its account: a
-- talent (through the API) may put only the signed-in account's own address on their
-- profile, and may submit only then; an anonymous sign-in user has no address yet and
-- cannot submit until they link and confirm one.

alter table public.talent_profiles rename column version to row_version;
alter table public.talent_profiles
  add column version text not null default '1.0.0',
  add constraint talent_profiles_version_format
    check (length(version) <= 20 and version ~ '^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(-[0-9A-Za-z.-]{1,10})?$');

comment on column public.talent_profiles.row_version is
  'Row counter: 1 on insert, +1 on every update, set by trigger only.';
comment on column public.talent_profiles.version is
  'Format version of the draft the frontend wrote (semver-like, e.g. 1.0.0); the talent''s to set while a draft.';

-- The account's own address, from the JWT Supabase Auth issued: null for an anonymous
-- sign-in user (is_anonymous, or no email claim yet: an address being linked shows up
-- in the JWT only once confirmed).
create function private.jwt_account_email() returns text
language sql stable
set search_path = ''
as $$
  select case when coalesce((auth.jwt() ->> 'is_anonymous')::boolean, false) then null
              else nullif(btrim(auth.jwt() ->> 'email'), '') end
$$;

-- Refuses (42501) an email that is not the signed-in account's own address, compared
-- case-insensitively; `doing` says what was refused.
create function private.talent_check_own_email(email text, doing text) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  account_email text := private.jwt_account_email();
begin
  if account_email is null then
    raise exception 'an anonymous account cannot %', doing
      using errcode = '42501',
            hint = 'Link an email address to this account first (supabase.auth.updateUser({ email })) and confirm it; '
                   'keep the address in onboarding_progress.form_data until then.';
  end if;
  if lower(email) is distinct from lower(account_email) then
    raise exception 'a profile''s email must be the signed-in account''s own address'
      using errcode = '42501',
            detail = format('The profile''s email is %s; the account''s is %s.', coalesce(email, 'empty'), account_email),
            hint = 'Use the account''s address, or change the account''s address first (supabase.auth.updateUser({ email })).';
  end if;
end
$$;

create or replace function private.talent_profiles_before_write() returns trigger
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
  return new;
end
$$;
