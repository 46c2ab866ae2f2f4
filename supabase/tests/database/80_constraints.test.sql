-- Bad input gets a clear error naming the rule (check constraints, SQLSTATE 23514),
-- tried as the talent through the API, the way the wizard would send it.
begin;
\ir _helpers.psql
select plan(28);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_profile('talent');
select tests.new_profile('other');
insert into public.onboarding_progress (user_id) values (tests.id('talent'));

create function tests.set(assignment text) returns text language sql as $$
  select tests.error_of(format('update public.talent_profiles set %s where user_id = auth.uid()', assignment))
$$;
grant execute on function tests.set(text) to authenticated;

-- The email format holds for every writer. A talent may write only their account's
-- own address (22_profile_email_owner.test.sql), so the format is tried as the service.
create function tests.set_email_as_service(addr text) returns text language plpgsql as $$
begin
  perform tests.as_service();
  return tests.error_of(format('update public.talent_profiles set email = %L where id = %L', addr, tests.id('talent.profile')));
end
$$;
grant execute on function tests.set_email_as_service(text) to service_role;
select is(split_part(tests.set_email_as_service(a), ' | ', 1), '23514: new row for relation "talent_profiles" violates check constraint "talent_profiles_email_format"', d)
from (values
  ('not-an-email', 'email without @ is refused'),
  ('a@b', 'email without a domain dot is refused'),
  ('a b@example.com', 'email with a space is refused'),
  (repeat('a', 250) || '@example.com', 'email over 254 characters is refused')
) t (a, d);
select is(tests.set_email_as_service('Jane.O''Neil+talent@mail.example.co.uk'), null, 'an ordinary email is accepted');
select is(tests.set_email_as_service(upper(tests.id('other')::text) || 'x@example.com'), null, 'another email is accepted');

select tests.as_user('talent');
select is(tests.set(a), format('23514: new row for relation "talent_profiles" violates check constraint "%s"', c), d)
from (values
  ($$name = ''$$, 'talent_profiles_name_length', 'empty name is refused'),
  ($$name = repeat('Ann ', 51)$$, 'talent_profiles_name_length', 'name over 200 characters is refused'),
  ($$phone = 'call me maybe'$$, 'talent_profiles_phone_format', 'phone with letters is refused'),
  ($$location = repeat('Oslo ', 41)$$, 'talent_profiles_location_length', 'location over 200 characters is refused'),
  ($$freeform_text = repeat('story ', 3334)$$, 'talent_profiles_freeform_text_length', 'freeform_text over 20000 characters is refused'),
  ($$custom_tone = repeat('calm ', 101)$$, 'talent_profiles_custom_tone_length', 'custom_tone over 500 characters is refused'),
  ($$tone_categories = array(select 't' || i from generate_series(1, 21) i)$$, 'talent_profiles_tone_categories_count', 'more than 20 tone categories are refused'),
  ($$session_id = repeat('s-', 101)$$, 'talent_profiles_session_id_length', 'session_id over 200 characters is refused')
) t (a, c, d);

-- personality_traits and predefined_answers name the offending key (82_traits_answers.test.sql).
select is(tests.set($$personality_traits = '{"energy": 101}'$$),
  '23514: personality trait "energy" must be an integer from 0 to 100, not 101', 'trait over 100 is refused');
select is(tests.set($$personality_traits = '{"energy": -1}'$$),
  '23514: personality trait "energy" must be an integer from 0 to 100, not -1', 'trait below 0 is refused');
select is(tests.set($$personality_traits = '{"energy": "high"}'$$),
  '23514: personality trait "energy" must be an integer from 0 to 100, not "high"', 'non-numeric trait is refused');
select is(tests.set($$personality_traits = '[50, 60]'$$),
  '23514: personality_traits must be an object, not array', 'traits must be an object');
select is(tests.set($$predefined_answers = '["a"]'$$),
  '23514: predefined_answers must be an object of strings, not array', 'answers must be an object');

select is(tests.set($$personality_traits = '{"extroversion": 0, "energy": 100, "formality": 55}'$$), null, 'traits at the bounds are accepted');
select is(tests.set(format('email = %L, phone = %L', (select email from tests.ids where label = 'talent'), '+44 (20) 7946-0958')),
  null, 'the account''s own email and an ordinary phone are accepted');
-- Someone else's profile already holds the talent's own address (in another case):
-- the unique key refuses it without naming the other profile.
select tests.as_postgres();
update public.talent_profiles set email = null where user_id = tests.id('talent');
update public.talent_profiles set email = upper((select email from tests.ids where label = 'talent')) where user_id = tests.id('other');
select tests.as_user('talent');
select is(tests.set(format('email = %L', (select email from tests.ids where label = 'talent'))),
  '23505: duplicate key value violates unique constraint "talent_profiles_email_key"',
  'emails are unique regardless of case (the key is not disclosed to the caller)');
select throws_ok($$update public.talent_profiles set status = 'archived' where user_id = auth.uid()$$,
  '22P02', 'invalid input value for enum talent_status: "archived"', 'an unknown status is refused (status is an enum)');

-- onboarding_progress
select throws_ok($$update public.onboarding_progress set form_data = '[1, 2]' where user_id = auth.uid()$$,
  '23514', null, 'form_data must be an object');
select throws_ok($$update public.onboarding_progress set form_data = jsonb_build_object('blob', (select string_agg(md5(i::text), ' ') from generate_series(1, 20000) i)) where user_id = auth.uid()$$,
  '23514', 'new row for relation "onboarding_progress" violates check constraint "onboarding_progress_form_data_shape"',
  'oversize form_data is refused');
select throws_ok($$update public.onboarding_progress set current_step = 21 where user_id = auth.uid()$$,
  '23514', 'new row for relation "onboarding_progress" violates check constraint "onboarding_progress_current_step_range"',
  'current_step above 20 is refused');
select throws_ok($$update public.onboarding_progress set current_step = -1 where user_id = auth.uid()$$,
  '23514', 'new row for relation "onboarding_progress" violates check constraint "onboarding_progress_current_step_range"',
  'current_step below 0 is refused');

-- admin columns
select tests.as_user('admin');
select throws_ok(format('update public.talent_profiles set admin_notes = repeat(%L, 1001) where id = %L', 'note ', tests.id('talent.profile')),
  '23514', null, 'admin_notes over 5000 characters is refused');

select * from finish();
rollback;
