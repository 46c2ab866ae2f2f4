-- The wizard's saved draft, one row per user (anonymous sign-in users included).
create table public.onboarding_progress (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid()
    references auth.users (id) on delete cascade,
  talent_profile_id uuid references public.talent_profiles (id) on delete cascade,
  session_id text,
  current_step integer not null default 1,
  completed_steps integer[] not null default '{}',
  form_data jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint onboarding_progress_user_id_key unique (user_id),
  constraint onboarding_progress_current_step_range check (current_step between 1 and 20),
  constraint onboarding_progress_completed_steps_count check (cardinality(completed_steps) <= 20),
  constraint onboarding_progress_session_id_length check (session_id is null or length(session_id) <= 200),
  constraint onboarding_progress_form_data_shape
    check (jsonb_typeof(form_data) = 'object' and pg_column_size(form_data) <= 262144)
);
comment on table public.onboarding_progress is
  'Saved wizard drafts. form_data holds the draft as the frontend shapes it (no media: URLs only).';

alter table public.onboarding_progress enable row level security;
alter table public.onboarding_progress replica identity full;
revoke all on table public.onboarding_progress from anon, authenticated;
grant select, insert, update, delete on table public.onboarding_progress to authenticated;
grant all on table public.onboarding_progress to service_role;
create index onboarding_progress_talent_profile_idx on public.onboarding_progress (talent_profile_id);

create function private.onboarding_progress_before_write() returns trigger
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
  new.updated_at := now();
  return new;
end
$$;

create trigger onboarding_progress_before_write
  before insert or update on public.onboarding_progress
  for each row execute function private.onboarding_progress_before_write();
