-- Demo data for local development. Loaded by `make db` (psql as superuser, after the
-- migrations) into the local database; scripts/test.sh loads it into the pgTAP clone.
-- Safe to load any number of times: rows are inserted with `on conflict do nothing`
-- and every status change is guarded by the status it starts from.
--
-- Demo users (fixed ids; sign in locally by putting the id in the JWT `sub` claim):
--
--   id                                    email                       role         status
--   00000000-0000-4000-a000-000000000001  superadmin@example.com      super_admin  -
--   00000000-0000-4000-a000-000000000002  admin@example.com           admin        -
--   00000000-0000-4000-b000-000000000001  maya.okafor@example.com     talent       draft
--   00000000-0000-4000-b000-000000000002  lucas.moreau@example.com    talent       submitted
--   00000000-0000-4000-b000-000000000003  priya.raman@example.com     talent       approved
--   00000000-0000-4000-b000-000000000004  daniel.kim@example.com      talent       active
--   00000000-0000-4000-b000-000000000005  sofia.lindqvist@example.com talent       inactive
--   00000000-0000-4000-b000-000000000006  tom.becker@example.com      talent       rejected
--
-- Profile ids are the user ids with the 'b' group changed to 'c'
-- (00000000-0000-4000-c000-00000000000N). Statuses are reached through the state
-- machine, acting exactly as PostgREST would (the talent submits, the admin reviews),
-- so submitted_at/approved_at/activated_at, row_version and updated_by are what the
-- triggers make of real requests. Media URLs point into this project's Storage buckets
-- (matching storage.objects rows are seeded too); there is no inline media anywhere.

begin;

insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
values
  ('00000000-0000-4000-a000-000000000001', 'authenticated', 'authenticated', 'superadmin@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{"full_name":"Sam Rivera"}'),
  ('00000000-0000-4000-a000-000000000002', 'authenticated', 'authenticated', 'admin@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{"full_name":"Alex Chen"}'),
  ('00000000-0000-4000-b000-000000000001', 'authenticated', 'authenticated', 'maya.okafor@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{}'),
  ('00000000-0000-4000-b000-000000000002', 'authenticated', 'authenticated', 'lucas.moreau@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{}'),
  ('00000000-0000-4000-b000-000000000003', 'authenticated', 'authenticated', 'priya.raman@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{}'),
  ('00000000-0000-4000-b000-000000000004', 'authenticated', 'authenticated', 'daniel.kim@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{}'),
  ('00000000-0000-4000-b000-000000000005', 'authenticated', 'authenticated', 'sofia.lindqvist@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{}'),
  ('00000000-0000-4000-b000-000000000006', 'authenticated', 'authenticated', 'tom.becker@example.com', now(),
   '{"provider":"email","providers":["email"]}', '{}')
on conflict (id) do nothing;

insert into public.admin_users (id, role) values
  ('00000000-0000-4000-a000-000000000001', 'super_admin'),
  ('00000000-0000-4000-a000-000000000002', 'admin')
on conflict (id) do nothing;

-- The media each talent uploaded, as Storage records them.
insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
select b.bucket, u.id || '/' || b.file, u.id, u.id::text,
       jsonb_build_object('mimetype', b.mime, 'size', b.size)
from (values
  ('00000000-0000-4000-b000-000000000002'::uuid), ('00000000-0000-4000-b000-000000000003'),
  ('00000000-0000-4000-b000-000000000004'), ('00000000-0000-4000-b000-000000000005'),
  ('00000000-0000-4000-b000-000000000006')) u (id)
cross join (values
  ('headshots', 'headshot-1.jpg', 'image/jpeg', 482113),
  ('headshots', 'headshot-2.jpg', 'image/jpeg', 517240),
  ('video-samples', 'sample.mp4', 'video/mp4', 48211305),
  ('interview-audio', 'freeform.m4a', 'audio/mp4', 3120448)) b (bucket, file, mime, size)
on conflict (bucket_id, name) do nothing;

-- Every profile starts as a draft, written by the talent's wizard.
insert into public.talent_profiles (id, user_id, name, email, phone, location, headshot_urls,
  video_sample_url, freeform_audio_url, tone_categories, personality_traits, custom_tone,
  predefined_answers, freeform_text, session_id)
select ('00000000-0000-4000-c000-00000000000' || n)::uuid,
       ('00000000-0000-4000-b000-00000000000' || n)::uuid,
       name, email, phone, location,
       case when media then array[
         'http://127.0.0.1:54321/storage/v1/object/headshots/00000000-0000-4000-b000-00000000000' || n || '/headshot-1.jpg',
         'http://127.0.0.1:54321/storage/v1/object/headshots/00000000-0000-4000-b000-00000000000' || n || '/headshot-2.jpg']
       else '{}' end,
       case when media then 'http://127.0.0.1:54321/storage/v1/object/video-samples/00000000-0000-4000-b000-00000000000' || n || '/sample.mp4' end,
       case when media then 'http://127.0.0.1:54321/storage/v1/object/interview-audio/00000000-0000-4000-b000-00000000000' || n || '/freeform.m4a' end,
       tones, traits::jsonb, custom_tone, answers::jsonb, freeform, 'seed-session-' || n
from (values
  (1, 'Maya Okafor', 'maya.okafor@example.com', null, 'Lagos, Nigeria', false,
   array['warm'], '{"extroversion": 72, "formality": 35, "energy": 64, "professionalism": 58}', null,
   '{"experience": "Two years of community radio."}',
   null),
  (2, 'Lucas Moreau', 'lucas.moreau@example.com', '+33 6 12 34 56 78', 'Lyon, France', true,
   array['calm', 'authoritative'], '{"extroversion": 40, "formality": 78, "energy": 40, "professionalism": 90}', null,
   '{"experience": "Eight years narrating documentaries in French and English.", "availability": "Weekdays, 20 hours a week", "languages": "French, English"}',
   'I grew up between Lyon and Montreal, and my voice work started in a university radio booth.'),
  (3, 'Priya Raman', 'priya.raman@example.com', '+91 98450 12345', 'Bengaluru, India', true,
   array['friendly', 'energetic'], '{"extroversion": 85, "formality": 55, "energy": 85, "professionalism": 80}', null,
   '{"experience": "Corporate e-learning voice-overs since 2019.", "availability": "Full time", "languages": "English, Tamil, Hindi"}',
   'Explaining complicated things simply is what I enjoy most; most of my clients are training teams.'),
  (4, 'Daniel Kim', 'daniel.kim@example.com', '+1 (415) 555-0134', 'San Francisco, USA', true,
   array['conversational', 'warm'], '{"extroversion": 81, "formality": 25, "energy": 55, "professionalism": 70}', 'Late-night radio host',
   '{"experience": "Podcast host for five years, 200+ episodes.", "availability": "Evenings and weekends", "languages": "English, Korean"}',
   'I host a weekly podcast about city history and love long-form storytelling.'),
  (5, 'Sofia Lindqvist', 'sofia.lindqvist@example.com', '+46 70 123 45 67', 'Stockholm, Sweden', true,
   array['calm'], '{"extroversion": 35, "formality": 70, "energy": 30, "professionalism": 85}', null,
   '{"experience": "Audiobook narrator, twelve titles published.", "availability": "Paused until spring", "languages": "Swedish, English"}',
   'Audiobooks are my main work; I am taking a break for a few months.'),
  (6, 'Tom Becker', 'tom.becker@example.com', '+49 151 23456789', 'Hamburg, Germany', true,
   array['energetic'], '{"extroversion": 95, "formality": 20, "energy": 95, "professionalism": 60}', null,
   '{"experience": "Sports commentary for a local club.", "availability": "Match days", "languages": "German"}',
   'Fast and loud is my style: stadium announcements and sports highlights.')
) p (n, name, email, phone, location, media, tones, traits, custom_tone, answers, freeform)
on conflict do nothing;

insert into public.onboarding_progress (user_id, talent_profile_id, session_id, current_step, completed_steps, form_data)
values ('00000000-0000-4000-b000-000000000001', '00000000-0000-4000-c000-000000000001', 'seed-session-1', 3,
        '{1,2}', '{"name": "Maya Okafor", "location": "Lagos, Nigeria", "tone_categories": ["warm"]}')
on conflict do nothing;

-- Each talent but the draft submits their own profile, then the admin reviews, each
-- step shaped as PostgREST runs a request (role + JWT claims, local to this transaction).
-- The `and status = ...` guards make a second load a no-op.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-b000-000000000002","role":"authenticated","email":"lucas.moreau@example.com"}', true);
update public.talent_profiles set status = 'submitted' where id = '00000000-0000-4000-c000-000000000002' and status = 'draft';
select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-b000-000000000003","role":"authenticated","email":"priya.raman@example.com"}', true);
update public.talent_profiles set status = 'submitted' where id = '00000000-0000-4000-c000-000000000003' and status = 'draft';
select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-b000-000000000004","role":"authenticated","email":"daniel.kim@example.com"}', true);
update public.talent_profiles set status = 'submitted' where id = '00000000-0000-4000-c000-000000000004' and status = 'draft';
select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-b000-000000000005","role":"authenticated","email":"sofia.lindqvist@example.com"}', true);
update public.talent_profiles set status = 'submitted' where id = '00000000-0000-4000-c000-000000000005' and status = 'draft';
select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-b000-000000000006","role":"authenticated","email":"tom.becker@example.com"}', true);
update public.talent_profiles set status = 'submitted' where id = '00000000-0000-4000-c000-000000000006' and status = 'draft';

-- admin@example.com reviews.
select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-a000-000000000002","role":"authenticated","email":"admin@example.com"}', true);
update public.talent_profiles set status = 'approved', admin_notes = 'Clear diction, good range.'
 where id in ('00000000-0000-4000-c000-000000000003', '00000000-0000-4000-c000-000000000004',
              '00000000-0000-4000-c000-000000000005') and status = 'submitted';
update public.talent_profiles set status = 'rejected',
       rejection_reason = 'The video sample is too short to judge delivery; please record at least one minute and reapply.'
 where id = '00000000-0000-4000-c000-000000000006' and status = 'submitted';
update public.talent_profiles set status = 'active'
 where id in ('00000000-0000-4000-c000-000000000004', '00000000-0000-4000-c000-000000000005') and status = 'approved';
update public.talent_profiles set status = 'inactive', admin_notes = 'On a break until spring, at her request.'
 where id = '00000000-0000-4000-c000-000000000005' and status = 'active';
reset role;
select set_config('request.jwt.claims', '', true);

commit;
