-- A profile's email belongs to its account (issue 15, item 4). Through the API a
-- talent may put only the signed-in account's own address on their profile (any
-- case), and may submit only with it; an anonymous sign-in user (is_anonymous, or no
-- email claim) may do neither until they have linked and confirmed an address.
-- Each refusal is 42501 (HTTP 403) with a hint saying what to do.
begin;
\ir _helpers.psql
select plan(28);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('anon_user');         -- an anonymous sign-in user
select tests.new_user('no_email');          -- a JWT without an email claim
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('other', 'draft');

-- 'SQLSTATE: message | hint' of the error sql raises, or null.
create function tests.refusal(sql text) returns text
language plpgsql as $$
declare st text; msg text; hint text;
begin
  execute sql;
  return null;
exception when others then
  get stacked diagnostics st = returned_sqlstate, msg = message_text, hint = pg_exception_hint;
  return st || ': ' || msg || coalesce(' | ' || nullif(hint, ''), '');
end
$$;
-- Claims as Supabase Auth issues them to an anonymous sign-in user.
create function tests.as_anonymous(label text) returns void
language plpgsql as $$
begin
  execute 'set local role authenticated';
  perform set_config('request.jwt.claims', json_build_object('sub', tests.id(label), 'role', 'authenticated',
    'email', '', 'is_anonymous', true, 'aud', 'authenticated')::text, true);
end
$$;
create function tests.mail(label text) returns text language sql stable as $$
  select email from tests.ids where label = $1
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- anon has no grant at all.
select tests.as_anon();
select throws_ok(format('insert into public.talent_profiles (user_id, name, email) values (%L, %L, %L)', tests.id('talent'), 'X', tests.mail('talent')),
  '42501', null, 'anon cannot create a profile');

-- The talent: their own address (any case) is accepted, anyone else's refused.
select tests.as_user('talent');
select is(tests.refusal(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Ada', tests.mail('other'))),
  '42501: a profile''s email must be the signed-in account''s own address | Use the account''s address, or change the account''s address first (supabase.auth.updateUser({ email })).',
  'a talent cannot create a profile with someone else''s address');
select is(tests.refusal(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Ada', 'stranger@example.com')),
  '42501: a profile''s email must be the signed-in account''s own address | Use the account''s address, or change the account''s address first (supabase.auth.updateUser({ email })).',
  'a talent cannot create a profile with an address nobody has');
select lives_ok(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Ada', upper(tests.mail('talent'))),
  'a talent creates a profile with their own address, in another case');
select throws_ok(format('update public.talent_profiles set email = %L where user_id = auth.uid()', 'victim@example.com'),
  '42501', 'a profile''s email must be the signed-in account''s own address', 'a talent cannot change the email to someone else''s');
select is(tests.affected('update public.talent_profiles set email = null where user_id = auth.uid()'), 1,
  'a talent may clear the email of their draft');
select is(tests.affected(format('update public.talent_profiles set email = %L where user_id = auth.uid()', tests.mail('talent'))), 1,
  'and set it back to their own address');
select is(tests.affected(format('update public.talent_profiles set location = %L where user_id = auth.uid()', 'Paris')), 1,
  'other edits of the draft are unaffected');

-- Submission needs the account's own address on the profile.
select tests.as_postgres();
update public.talent_profiles set email = 'changed@example.com' where user_id = tests.id('talent');   -- e.g. set by ops
select tests.as_user('talent');
select is(tests.error_of($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$),
  format('42501: a profile''s email must be the signed-in account''s own address | The profile''s email is changed@example.com; the account''s is %s.', tests.mail('talent')),
  'a talent cannot submit a profile carrying another address');
select is(tests.affected(format('update public.talent_profiles set email = %L where user_id = auth.uid()', tests.mail('talent'))), 1,
  'the talent puts their own address back');
select lives_ok($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$,
  'a talent submits a profile with their own address');
select is((select status from public.talent_profiles where user_id = auth.uid()), 'submitted', 'the profile is submitted');

-- Another talent: a draft that holds someone else's address (written by the service) cannot be submitted.
select tests.as_postgres();
update public.talent_profiles set email = 'someone.else@example.com' where user_id = tests.id('other');
select tests.as_user('other');
select throws_ok($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$,
  '42501', 'a profile''s email must be the signed-in account''s own address', 'another talent cannot submit with a foreign address');
select is(tests.affected(format('update public.talent_profiles set status = %L where user_id = %L', 'submitted', tests.id('talent'))), 0,
  'another talent cannot touch the talent''s profile (0 rows)');

-- An anonymous sign-in user: a draft without an email, no submission.
select tests.as_anonymous('anon_user');
select is(tests.refusal(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Anon', tests.mail('anon_user'))),
  '42501: an anonymous account cannot put an email address on a profile | Link an email address to this account first (supabase.auth.updateUser({ email })) and confirm it; keep the address in onboarding_progress.form_data until then.',
  'an anonymous user cannot put an address on a profile, and is told what to do');
select lives_ok($$insert into public.talent_profiles (name, location) values ('Anon', 'Rome')$$,
  'an anonymous user saves a draft without an email');
select is(tests.refusal($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$),
  '42501: an anonymous account cannot submit a profile | Link an email address to this account first (supabase.auth.updateUser({ email })) and confirm it; keep the address in onboarding_progress.form_data until then.',
  'an anonymous user cannot submit, and is told what to do');
-- A JWT without an email claim is treated the same.
select tests.as_postgres();
set local role authenticated;
select set_config('request.jwt.claims', json_build_object('sub', tests.id('no_email'), 'role', 'authenticated')::text, true);
select throws_ok(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'No mail', tests.mail('no_email')),
  '42501', 'an anonymous account cannot put an email address on a profile', 'a JWT without an email claim cannot put an address on a profile');
-- After linking and confirming an address, the JWT carries it and is_anonymous is false.
select tests.as_postgres();
set local role authenticated;
select set_config('request.jwt.claims', json_build_object('sub', tests.id('anon_user'), 'role', 'authenticated',
  'email', tests.mail('anon_user'), 'is_anonymous', false)::text, true);
select is(tests.affected(format('update public.talent_profiles set email = %L where user_id = auth.uid()', tests.mail('anon_user'))), 1,
  'once linked, the user puts their address on the draft');
select lives_ok($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$,
  'and submits it');

-- Admins: never change a talent's email; on their own profile they are a talent like any other.
select tests.as_user('admin');
select throws_ok(format('update public.talent_profiles set email = %L where id = %L', tests.mail('admin'), tests.id('other.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'an admin cannot change a talent''s email');
select throws_ok(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Admin', tests.mail('super')),
  '42501', 'a profile''s email must be the signed-in account''s own address', 'an admin cannot create their own profile with another address');
select lives_ok(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Admin', tests.mail('admin')),
  'an admin creates their own profile with their own address');
select tests.as_user('super');
select throws_ok(format('update public.talent_profiles set email = %L where id = %L', tests.mail('super'), tests.id('other.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'a super admin cannot change a talent''s email');
select throws_ok(format('insert into public.talent_profiles (name, email) values (%L, %L)', 'Super', tests.mail('talent')),
  '42501', 'a profile''s email must be the signed-in account''s own address', 'a super admin cannot take a talent''s address either');

-- The service (ops, the sidecar) is not an account: it may set any address.
select tests.as_service();
select is(tests.affected(format('update public.talent_profiles set email = %L where id = %L', 'ops.fix@example.com', tests.id('other.profile'))), 1,
  'the service sets any address');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'submitted', tests.id('other.profile')),
  'the service may submit a profile (it follows the state machine, not the account rule)');
select is((select count(*)::int from public.talent_profiles where email in ('victim@example.com', 'stranger@example.com', 'someone.else@example.com')), 0,
  'no refused address was stored');

select * from finish();
rollback;
