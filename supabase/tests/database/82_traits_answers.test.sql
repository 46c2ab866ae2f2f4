-- personality_traits are the specification's four, each an integer 0-100; any other
-- key is refused naming it. predefined_answers is an object of strings. (Issue 15,
-- item 3.) The rule holds for every writer: talent, admin, service.
begin;
\ir _helpers.psql
select plan(24);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('talent');
select tests.new_profile('other', 'submitted');

create function tests.set(assignment text) returns text language sql as $$
  select tests.error_of(format('update public.talent_profiles set %s where user_id = auth.uid()', assignment))
$$;
-- SQLSTATE, constraint name and message of what sql raises.
create function tests.violation(sql text) returns text language plpgsql as $$
declare st text; msg text; con text;
begin
  execute sql;
  return null;
exception when others then
  get stacked diagnostics st = returned_sqlstate, msg = message_text, con = constraint_name;
  return st || ' [' || coalesce(con, '') || ']: ' || msg;
end
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

select tests.as_anon();
select throws_ok($$update public.talent_profiles set personality_traits = '{"energy": 1}'$$, '42501', null, 'anon cannot write traits');

select tests.as_user('talent');
select is(tests.set($$personality_traits = '{"extroversion": 0, "formality": 100, "energy": 42, "professionalism": 77}'$$), null,
  'the four traits, integers 0-100, are accepted');
select is(tests.set($$personality_traits = '{"energy": 50}'$$), null, 'a draft may hold some of the four');
select is(tests.set($$personality_traits = '{}'$$), null, 'or none yet');
select is(tests.set($$personality_traits = '{"energy": 60.0}'$$), null, 'an integral number written as 60.0 is an integer');
select is(tests.violation($$update public.talent_profiles set personality_traits = '{"energy": 50, "warmth": 80}' where user_id = auth.uid()$$),
  '23514 [talent_profiles_personality_traits_shape]: unknown personality trait "warmth"',
  'an unknown trait is refused by name, with the constraint named');
select is(tests.set($$personality_traits = '{"Energy": 50}'$$), '23514: unknown personality trait "Energy"', 'trait names are exact (case matters)');
select is(tests.set($$personality_traits = '{"energy": 55.5}'$$),
  '23514: personality trait "energy" must be an integer from 0 to 100, not 55.5', 'a fractional score is refused');
select is(tests.set($$personality_traits = '{"formality": 101}'$$),
  '23514: personality trait "formality" must be an integer from 0 to 100, not 101', 'a score over 100 is refused');
select is(tests.set($$personality_traits = '{"professionalism": null}'$$),
  '23514: personality trait "professionalism" must be an integer from 0 to 100, not null', 'a null score is refused');
select is(tests.set($$personality_traits = '{"extroversion": true}'$$),
  '23514: personality trait "extroversion" must be an integer from 0 to 100, not true', 'a boolean score is refused');
select is(tests.set($$personality_traits = 'null'$$), '23514: personality_traits must be an object, not null', 'a JSON null is refused');

select is(tests.set($$predefined_answers = '{"experience": "Ten years", "availability": ""}'$$), null, 'answers that are strings are accepted');
select is(tests.violation($$update public.talent_profiles set predefined_answers = '{"experience": "x", "years": 10}' where user_id = auth.uid()$$),
  '23514 [talent_profiles_predefined_answers_shape]: predefined answer "years" must be a string, not number',
  'a non-string answer is refused, naming its key');
select is(tests.set($$predefined_answers = '{"languages": ["en", "fr"]}'$$),
  '23514: predefined answer "languages" must be a string, not array', 'an array answer is refused');
select is(tests.set($$predefined_answers = '{"q": null}'$$),
  '23514: predefined answer "q" must be a string, not null', 'a null answer is refused');
select is(tests.set(format('predefined_answers = %L', jsonb_build_object(repeat('k', 201), 'v'))),
  format('23514: predefined answer key "%s..." is longer than 200 characters', repeat('k', 50)), 'an overlong key is refused');

-- Another talent cannot write the talent's traits (0 rows), nor edit their own submitted ones.
select tests.as_user('other');
select is(tests.affected(format($$update public.talent_profiles set personality_traits = '{"energy": 1}' where id = %L$$, tests.id('talent.profile'))), 0,
  'another talent writes 0 rows');
select throws_ok($$update public.talent_profiles set personality_traits = '{"energy": 1}' where user_id = auth.uid()$$,
  '42501', 'this profile is submitted and can no longer be edited by its talent', 'traits of a submitted profile are read-only');

-- Admins never write traits.
select tests.as_user('admin');
select throws_ok(format($$update public.talent_profiles set personality_traits = '{"energy": 1}' where id = %L$$, tests.id('talent.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'an admin cannot write traits');
select tests.as_user('super');
select throws_ok(format($$update public.talent_profiles set predefined_answers = '{"a": "b"}' where id = %L$$, tests.id('talent.profile')),
  '42501', 'admins may change only status, admin_notes and rejection_reason', 'a super admin cannot write answers');

-- The service is held to the shape too.
select tests.as_service();
select throws_ok(format($$update public.talent_profiles set personality_traits = '{"humor": 50}' where id = %L$$, tests.id('talent.profile')),
  '23514', 'unknown personality trait "humor"', 'the service cannot store an unknown trait');
select throws_ok(format($$update public.talent_profiles set predefined_answers = '{"n": 1}' where id = %L$$, tests.id('talent.profile')),
  '23514', 'predefined answer "n" must be a string, not number', 'the service cannot store a non-string answer');
select is(tests.affected(format($$update public.talent_profiles set personality_traits = '{"energy": 3}' where id = %L$$, tests.id('talent.profile'))), 1,
  'the service stores valid traits');

select * from finish();
rollback;
