-- talent_profiles: every API role against select / insert / update / delete.
begin;
\ir _helpers.psql
select plan(41);

select tests.new_user('talent_a');
select tests.new_user('talent_b');
select tests.new_user('talent_c');          -- no profile yet
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('talent_a');
select tests.new_profile('talent_b', 'submitted');

-- anon: no grant at all, every command refused.
select tests.as_anon();
select throws_ok($$select * from public.talent_profiles$$, '42501', null, 'anon cannot select talent_profiles');
select throws_ok($$insert into public.talent_profiles (user_id, name) values (gen_random_uuid(), 'x')$$,
  '42501', null, 'anon cannot insert talent_profiles');
select throws_ok(format('update public.talent_profiles set name = %L where id = %L', 'x', tests.id('talent_a.profile')),
  '42501', null, 'anon cannot update talent_profiles');
select throws_ok(format('delete from public.talent_profiles where id = %L', tests.id('talent_a.profile')),
  '42501', null, 'anon cannot delete talent_profiles');

-- the talent: own row only.
select tests.as_user('talent_a');
select is(tests.visible('public.talent_profiles'), 1, 'a talent sees exactly one profile');
select is(tests.visible('public.talent_profiles', format('id = %L', tests.id('talent_a.profile'))), 1,
  'a talent sees their own profile');
select is(tests.affected(format('update public.talent_profiles set location = %L where id = %L', 'Lisbon', tests.id('talent_a.profile'))),
  1, 'a talent updates their own draft');
select throws_ok(format('update public.talent_profiles set user_id = %L where id = %L', tests.id('talent_b'), tests.id('talent_a.profile')),
  '42501', null, 'a talent cannot hand their profile to another user');
select throws_ok(format('insert into public.talent_profiles (user_id, name) values (%L, %L)', tests.id('talent_a'), 'Second'),
  '23505', null, 'a talent has one profile (unique user_id)');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent_a.profile'))),
  0, 'a talent cannot delete their own profile (0 rows)');

-- another talent: the first talent's row is invisible and untouchable.
select tests.as_user('talent_b');
select is_empty(format('select * from public.talent_profiles where id = %L', tests.id('talent_a.profile')),
  'another talent does not see the profile');
select is(tests.affected(format('update public.talent_profiles set name = %L where id = %L', 'Hijack', tests.id('talent_a.profile'))),
  0, 'another talent updates 0 rows');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent_a.profile'))),
  0, 'another talent deletes 0 rows');
select throws_ok(format('insert into public.talent_profiles (user_id, name) values (%L, %L)', tests.id('talent_c'), 'Forged'),
  '42501', null, 'a talent cannot create a profile for another user');

-- a talent without a profile creates their own draft (the wizard's first save).
select tests.as_user('talent_c');
select lives_ok($$insert into public.talent_profiles (name) values ('Carla Test')$$,
  'a talent creates their own draft (user_id defaults to auth.uid())');
select throws_ok($$update public.talent_profiles set status = 'draft', admin_notes = 'self-praise' where user_id = auth.uid()$$,
  '42501', 'admin_notes and rejection_reason are set by admins only', 'a talent cannot set admin_notes');
select throws_ok($$update public.talent_profiles set rejection_reason = 'none' where user_id = auth.uid()$$,
  '42501', 'admin_notes and rejection_reason are set by admins only', 'a talent cannot set rejection_reason');
select tests.as_postgres();
select tests.new_user('talent_d');
select tests.as_user('talent_d');
select throws_ok($$insert into public.talent_profiles (name, status) values ('Dora', 'approved')$$,
  '42501', 'a new profile starts as a draft, not approved', 'a talent cannot insert an approved profile');
select throws_ok($$insert into public.talent_profiles (name, admin_notes) values ('Dora', 'great')$$,
  '42501', 'admin_notes and rejection_reason are set by admins only', 'a talent cannot insert admin_notes');
select is(tests.visible('public.talent_profiles'), 0, 'a user without a profile sees none');

-- user_metadata is never authority: a talent claiming admin in their JWT is a talent.
select tests.as_postgres();
update auth.users set raw_user_meta_data = '{"role": "super_admin", "is_admin": true}' where id = tests.id('talent_b');
select set_config('request.jwt.claims', '', true);
set local role authenticated;
select set_config('request.jwt.claims', json_build_object('sub', tests.id('talent_b'), 'role', 'authenticated',
  'user_metadata', json_build_object('role', 'super_admin', 'is_admin', true),
  'app_metadata', json_build_object('role', 'super_admin'))::text, true);
select is(tests.visible('public.talent_profiles'), 1, 'admin claims in user_metadata/app_metadata grant nothing');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent_a.profile'))),
  0, 'a talent claiming super_admin in the JWT deletes nothing');

-- a JWT with role service_role but the authenticated database role is still a talent.
select set_config('request.jwt.claims', json_build_object('sub', tests.id('talent_b'), 'role', 'service_role')::text, true);
select is(tests.visible('public.talent_profiles'), 1, 'a role claim alone does not bypass RLS');

-- admin: reads all, reviews, never edits content, never deletes.
select tests.as_user('admin');
select is(tests.visible('public.talent_profiles', format('id in (%L, %L)', tests.id('talent_a.profile'), tests.id('talent_b.profile'))),
  2, 'an admin sees every profile');
select is(tests.affected(format('update public.talent_profiles set admin_notes = %L where id = %L', 'Promising', tests.id('talent_a.profile'))),
  1, 'an admin updates admin_notes');
select throws_ok(format('update public.talent_profiles set name = %L where id = %L', 'Renamed', tests.id('talent_a.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'an admin cannot change talent content');
select throws_ok(format('update public.talent_profiles set predefined_answers = %L where id = %L', '{}', tests.id('talent_b.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'an admin cannot change answers');
select throws_ok(format('insert into public.talent_profiles (user_id, name) values (%L, %L)', tests.id('talent_c'), 'On behalf'),
  '42501', null, 'an admin cannot create a profile for a talent');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent_a.profile'))),
  0, 'an admin (not super) deletes 0 rows');
select is(tests.visible('public.talent_profiles', format('id = %L', tests.id('talent_a.profile'))), 1, 'the profile is still there');

-- super_admin: reads all, deletes.
select tests.as_user('super');
select is(tests.visible('public.talent_profiles', format('id = %L', tests.id('talent_b.profile'))), 1, 'a super_admin sees profiles');
select throws_ok(format('update public.talent_profiles set email = %L where id = %L', 'x@example.com', tests.id('talent_b.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'a super_admin cannot change talent content either');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent_b.profile'))),
  1, 'a super_admin deletes a profile');

-- service_role: bypasses RLS (the sidecar and ops).
select tests.as_service();
select is(tests.visible('public.talent_profiles', format('id = %L', tests.id('talent_a.profile'))), 1, 'service_role sees every profile');
select lives_ok(format('insert into public.talent_profiles (user_id, name) values (%L, %L)', tests.id('talent_d'), 'Ops created'),
  'service_role inserts');
select is(tests.affected(format('update public.talent_profiles set admin_notes = %L where id = %L', 'ops note', tests.id('talent_a.profile'))),
  1, 'service_role updates');
select is(tests.affected(format('delete from public.talent_profiles where user_id = %L', tests.id('talent_d'))),
  1, 'service_role deletes');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'active', tests.id('talent_a.profile')),
  '23514', null, 'service_role still follows the state machine');
select throws_ok(format('update public.talent_profiles set created_at = now() - interval %L where id = %L', '1 year', tests.id('talent_a.profile')),
  '42501', 'id, user_id and created_at of a talent profile cannot change', 'nobody rewrites created_at');

-- Realtime: the table is published (subscribers get rows through RLS).
select tests.as_postgres();
select ok(exists(select 1 from pg_publication_tables where pubname = 'supabase_realtime' and tablename = 'talent_profiles'),
  'talent_profiles is in supabase_realtime');
select is((select relreplident from pg_class where oid = 'public.talent_profiles'::regclass), 'f'::"char",
  'talent_profiles has replica identity full');

select * from finish();
rollback;
