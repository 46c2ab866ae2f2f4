-- onboarding_progress as the wizard of the specification saves it (PON-47,
-- OnboardingProgress): current_step counts from 0, last_activity is kept by the
-- database, is_complete is stored, and the row is published for Realtime so the
-- wizard can subscribe to its own progress.

-- current_step: the wizard's first step is 0 (the old range 1..20 refused the first
-- autosave). The upper bound stays.
alter table public.onboarding_progress
  alter column current_step set default 0,
  drop constraint onboarding_progress_current_step_range,
  add constraint onboarding_progress_current_step_range check (current_step between 0 and 20),
  add constraint onboarding_progress_completed_steps_range
    check (array_position(completed_steps, null) is null
           and 0 <= all (completed_steps) and 20 >= all (completed_steps)),
  add column is_complete boolean not null default false,
  add column last_activity timestamptz;

comment on column public.onboarding_progress.last_activity is
  'When the row was last written; set by trigger on every insert and update, whatever the client sends.';
comment on column public.onboarding_progress.is_complete is
  'The wizard''s own flag: the talent went through every step.';

-- Existing rows: their last activity is their last update. The trigger would stamp
-- now() over both columns, so it is off for this one statement.
alter table public.onboarding_progress disable trigger onboarding_progress_before_write;
update public.onboarding_progress set last_activity = updated_at;
alter table public.onboarding_progress enable trigger onboarding_progress_before_write;
alter table public.onboarding_progress
  alter column last_activity set default now(),
  alter column last_activity set not null;

-- The wizard finds a draft by its session id (spec: idx_onboarding_progress_session_id).
create index onboarding_progress_session_id_idx on public.onboarding_progress (session_id);

create or replace function private.onboarding_progress_before_write() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    if tg_op = 'INSERT' then
      new.created_at := now();
    elsif new.user_id is distinct from old.user_id or new.created_at is distinct from old.created_at then
      raise exception 'user_id and created_at of onboarding progress cannot change'
        using errcode = '42501';
    end if;
    if new.talent_profile_id is not null and not exists (
      select 1 from public.talent_profiles p
      where p.id = new.talent_profile_id and p.user_id = auth.uid()
    ) then
      raise exception 'talent_profile_id must be your own profile' using errcode = '42501';
    end if;
  end if;
  -- Never taken from the client, nor from any other writer.
  new.updated_at := now();
  new.last_activity := now();
  return new;
end
$$;

-- Realtime: the wizard subscribes to its own row (RLS decides what each subscriber
-- receives, as for a select). Hosted projects have the publication; adding a table
-- twice is an error, and a FOR ALL TABLES publication already has it.
do $pub$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime' and not puballtables)
     and not exists (select 1 from pg_publication_tables
                     where pubname = 'supabase_realtime' and schemaname = 'public'
                       and tablename = 'onboarding_progress') then
    alter publication supabase_realtime add table public.onboarding_progress;
  end if;
end
$pub$;
