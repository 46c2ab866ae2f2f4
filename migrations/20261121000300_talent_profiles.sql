-- Talent profiles: the onboarding wizard's result and the admin review state.
create table public.talent_profiles (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid()
    references auth.users (id) on delete cascade,
  name text,
  email text,
  phone text,
  location text,
  status text not null default 'draft',
  headshot_urls text[] not null default '{}',
  video_sample_url text,
  freeform_audio_url text,
  tone_categories text[] not null default '{}',
  personality_traits jsonb not null default '{}',
  custom_tone text,
  predefined_answers jsonb not null default '{}',
  freeform_text text,
  admin_notes text,
  rejection_reason text,
  session_id text,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  submitted_at timestamptz,
  approved_at timestamptz,
  activated_at timestamptz,
  updated_by uuid,

  constraint talent_profiles_user_id_key unique (user_id),
  constraint talent_profiles_status_check
    check (status in ('draft', 'submitted', 'approved', 'rejected', 'active', 'inactive')),
  constraint talent_profiles_email_format
    check (email is null or (length(email) <= 254
      and email ~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$')),
  constraint talent_profiles_name_length check (name is null or length(name) between 1 and 200),
  constraint talent_profiles_phone_format
    check (phone is null or phone ~ '^\+?[0-9 ().-]{5,32}$'),
  constraint talent_profiles_location_length check (location is null or length(location) <= 200),
  constraint talent_profiles_headshot_count check (cardinality(headshot_urls) <= 10),
  constraint talent_profiles_url_length
    check (length(coalesce(video_sample_url, '')) <= 2048
       and length(coalesce(freeform_audio_url, '')) <= 2048),
  constraint talent_profiles_tone_categories_count check (cardinality(tone_categories) <= 20),
  constraint talent_profiles_custom_tone_length check (custom_tone is null or length(custom_tone) <= 500),
  constraint talent_profiles_freeform_text_length check (freeform_text is null or length(freeform_text) <= 20000),
  constraint talent_profiles_admin_notes_length check (admin_notes is null or length(admin_notes) <= 5000),
  constraint talent_profiles_rejection_reason_length
    check (rejection_reason is null or length(rejection_reason) <= 2000),
  constraint talent_profiles_session_id_length check (session_id is null or length(session_id) <= 200),
  constraint talent_profiles_predefined_answers_shape
    check (jsonb_typeof(predefined_answers) = 'object' and pg_column_size(predefined_answers) <= 65536),
  constraint talent_profiles_personality_traits_shape
    check (private.valid_personality_traits(personality_traits))
);

comment on table public.talent_profiles is
  'One profile per talent user. Status changes follow the state machine enforced by trigger.';
comment on column public.talent_profiles.updated_by is
  'auth.uid() of whoever made the last change, stamped by trigger; the change stream reads it.';

alter table public.talent_profiles enable row level security;
alter table public.talent_profiles replica identity full;

revoke all on table public.talent_profiles from anon, authenticated;
grant select, insert, update, delete on table public.talent_profiles to authenticated;
grant all on table public.talent_profiles to service_role;

-- Indexes for the policies (user_id) and for the admin list filters.
create index talent_profiles_status_created_idx on public.talent_profiles (status, created_at desc);
create index talent_profiles_created_idx on public.talent_profiles (created_at desc);
create index talent_profiles_submitted_idx on public.talent_profiles (submitted_at desc) where submitted_at is not null;
create unique index talent_profiles_email_key on public.talent_profiles (lower(email));
create index talent_profiles_name_trgm_idx on public.talent_profiles using gin (name extensions.gin_trgm_ops);
create index talent_profiles_email_trgm_idx on public.talent_profiles using gin (email extensions.gin_trgm_ops);
