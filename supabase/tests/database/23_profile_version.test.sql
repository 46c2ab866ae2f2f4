-- talent_profiles.version is the draft format version the frontend writes (text,
-- default '1.0.0'); row_version is the trigger's counter (issue 15, item 2).
begin;
\ir _helpers.psql
select plan(19);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('other', 'submitted');

select col_type_is('public', 'talent_profiles', 'version', 'text', 'version is text');
select col_default_is('public', 'talent_profiles', 'version', '1.0.0', 'version defaults to 1.0.0');
select col_not_null('public', 'talent_profiles', 'version', 'version is not null');
select col_type_is('public', 'talent_profiles', 'row_version', 'integer', 'row_version is the integer counter');

select tests.as_anon();
select throws_ok($$insert into public.talent_profiles (user_id, name, version) values (gen_random_uuid(), 'x', '1.0.0')$$,
  '42501', null, 'anon cannot write a profile');

select tests.as_user('talent');
select lives_ok($$insert into public.talent_profiles (name, row_version) values ('Ada', 41)$$, 'a talent creates a draft, sending a row_version');
select results_eq($$select version, row_version from public.talent_profiles where user_id = auth.uid()$$,
  $$values ('1.0.0'::text, 1)$$, 'the default format version; row_version starts at 1 whatever the client sent');
select is(tests.affected($$update public.talent_profiles set version = '1.2.0' where user_id = auth.uid()$$), 1,
  'a talent writes the format version of their draft');
select results_eq($$select version, row_version from public.talent_profiles where user_id = auth.uid()$$,
  $$values ('1.2.0'::text, 2)$$, 'version stored; row_version bumped by the trigger');
select is(tests.affected($$update public.talent_profiles set version = '2.0.0-beta.1', row_version = 100 where user_id = auth.uid()$$), 1,
  'a pre-release version is accepted');
select is((select row_version from public.talent_profiles where user_id = auth.uid()), 3, 'a client row_version is ignored');
select throws_ok($$update public.talent_profiles set version = '1.2' where user_id = auth.uid()$$,
  '23514', 'new row for relation "talent_profiles" violates check constraint "talent_profiles_version_format"', 'a version without three parts is refused');
select throws_ok($$update public.talent_profiles set version = '1.0.0-' || repeat('x', 30) where user_id = auth.uid()$$,
  '23514', 'new row for relation "talent_profiles" violates check constraint "talent_profiles_version_format"', 'an overlong version is refused');
select throws_ok($$update public.talent_profiles set version = null where user_id = auth.uid()$$,
  '23502', null, 'version cannot be null');

select tests.as_user('other');
select throws_ok($$update public.talent_profiles set version = '9.9.9' where user_id = auth.uid()$$,
  '42501', 'this profile is submitted and can no longer be edited by its talent', 'a submitted profile''s version is read-only to its talent');

select tests.as_user('admin');
select throws_ok(format('update public.talent_profiles set version = %L where id = %L', '9.9.9', tests.id('other.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'an admin cannot change the format version');
select tests.as_user('super');
select throws_ok(format('update public.talent_profiles set version = %L where id = %L', '9.9.9', tests.id('other.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'a super admin cannot change the format version');

select tests.as_service();
select is(tests.affected(format('update public.talent_profiles set version = %L, row_version = 1 where id = %L', '1.1.0', tests.id('other.profile'))), 1,
  'the service may change the format version');
select tests.as_postgres();
select results_eq(format('select version, row_version from public.talent_profiles where id = %L', tests.id('other.profile')),
  $$values ('1.1.0'::text, 3)$$, 'the service''s row_version is ignored too (insert 1, submit 2, this change 3)');

select * from finish();
rollback;
