-- Bad input gets a clear error naming the rule (check constraints, SQLSTATE 23514),
-- tried as the talent through the API, the way the wizard would send it.
begin;
\ir _helpers.psql
select plan(26);

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

select tests.as_user('talent');
select is(tests.set(a), format('23514: new row for relation "talent_profiles" violates check constraint "%s"', c), d)
from (values
  ($$email = 'not-an-email'$$, 'talent_profiles_email_format', 'email without @ is refused'),
  ($$email = 'a@b'$$, 'talent_profiles_email_format', 'email without a domain dot is refused'),
  ($$email = 'a b@example.com'$$, 'talent_profiles_email_format', 'email with a space is refused'),
  ($$email = repeat('a', 250) || '@example.com'$$, 'talent_profiles_email_format', 'email over 254 characters is refused'),
  ($$name = ''$$, 'talent_profiles_name_length', 'empty name is refused'),
  ($$name = repeat('Ann ', 51)$$, 'talent_profiles_name_length', 'name over 200 characters is refused'),
  ($$phone = 'call me maybe'$$, 'talent_profiles_phone_format', 'phone with letters is refused'),
  ($$location = repeat('Oslo ', 41)$$, 'talent_profiles_location_length', 'location over 200 characters is refused'),
  ($$personality_traits = '{"warmth": 101}'$$, 'talent_profiles_personality_traits_shape', 'trait over 100 is refused'),
  ($$personality_traits = '{"warmth": -1}'$$, 'talent_profiles_personality_traits_shape', 'trait below 0 is refused'),
  ($$personality_traits = '{"warmth": "high"}'$$, 'talent_profiles_personality_traits_shape', 'non-numeric trait is refused'),
  ($$personality_traits = '[50, 60]'$$, 'talent_profiles_personality_traits_shape', 'traits must be an object'),
  ($$predefined_answers = '["a"]'$$, 'talent_profiles_predefined_answers_shape', 'answers must be an object'),
  ($$freeform_text = repeat('story ', 3334)$$, 'talent_profiles_freeform_text_length', 'freeform_text over 20000 characters is refused'),
  ($$custom_tone = repeat('calm ', 101)$$, 'talent_profiles_custom_tone_length', 'custom_tone over 500 characters is refused'),
  ($$tone_categories = array(select 't' || i from generate_series(1, 21) i)$$, 'talent_profiles_tone_categories_count', 'more than 20 tone categories are refused'),
  ($$session_id = repeat('s-', 101)$$, 'talent_profiles_session_id_length', 'session_id over 200 characters is refused')
) t (a, c, d);

select is(tests.set($$personality_traits = '{"warmth": 0, "energy": 100, "humor": 55.5}'$$), null, 'traits at the bounds are accepted');
select is(tests.set($$email = 'Jane.O''Neil+talent@mail.example.co.uk', phone = '+44 (20) 7946-0958'$$), null, 'ordinary email and phone are accepted');
select is(tests.set(format('email = %L', upper(tests.id('other')::text) || 'x@example.com')), null, 'another email is accepted');
select tests.as_postgres();
update public.talent_profiles set email = 'taken@example.com' where user_id = tests.id('other');
select tests.as_user('talent');
select is(tests.set($$email = 'TAKEN@example.com'$$),
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
select throws_ok($$update public.onboarding_progress set current_step = 0 where user_id = auth.uid()$$,
  '23514', null, 'current_step must be between 1 and 20');

-- admin columns
select tests.as_user('admin');
select throws_ok(format('update public.talent_profiles set admin_notes = repeat(%L, 1001) where id = %L', 'note ', tests.id('talent.profile')),
  '23514', null, 'admin_notes over 5000 characters is refused');

select * from finish();
rollback;
