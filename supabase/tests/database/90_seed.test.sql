-- The demo seed (supabase/seed.sql) is loaded and reached its states through the
-- state machine. The only file that depends on seed ids.
begin;
select plan(5);

select results_eq($$select u.email::text, a.role from auth.users u join public.admin_users a on a.id = u.id order by u.email$$,
  $$values ('admin@example.com'::text, 'admin'::public.admin_role), ('superadmin@example.com', 'super_admin')$$,
  'the demo admin and super_admin exist');
select results_eq($$select email, status from public.talent_profiles where user_id::text like '00000000-0000-4000-b000-%' order by user_id$$,
  $$values ('maya.okafor@example.com'::text, 'draft'::public.talent_status), ('lucas.moreau@example.com', 'submitted'),
           ('priya.raman@example.com', 'approved'), ('daniel.kim@example.com', 'active'),
           ('sofia.lindqvist@example.com', 'inactive'), ('tom.becker@example.com', 'rejected')$$,
  'the demo talents are in six states');
select is_empty($$select email from public.talent_profiles where status <> 'draft' and (submitted_at is null or updated_by is null)$$,
  'every non-draft demo profile was submitted through the machine and stamped');
select is_empty($$
  select p.email from public.talent_profiles p, unnest(p.headshot_urls || p.video_sample_url || p.freeform_audio_url) u
   where u is not null and u !~ ('^http://127\.0\.0\.1:54321/storage/v1/object/(headshots|video-samples|interview-audio)/' || p.user_id || '/[^/]+$')
$$, 'demo media URLs are Storage URLs in the talent''s own folder');
select is_empty($$
  select p.email from public.talent_profiles p, unnest(p.headshot_urls || p.video_sample_url || p.freeform_audio_url) u
   where u is not null and not exists (
     select 1 from storage.objects o
      where u = 'http://127.0.0.1:54321/storage/v1/object/' || o.bucket_id || '/' || o.name)
$$, 'every demo media URL has its storage object');

select * from finish();
rollback;
