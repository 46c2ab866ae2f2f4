-- onboarding_progress as the specification's wizard saves it (issue 15, items 1 and 7):
-- current_step from 0, completed_steps, last_activity kept by the database on every
-- write, session_id indexed, is_complete; published for Realtime; each API role.
begin;
\ir _helpers.psql
select plan(31);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');

-- Schema as the specification has it.
select col_type_is('public', 'onboarding_progress', 'current_step', 'integer', 'current_step is an integer');
select col_default_is('public', 'onboarding_progress', 'current_step', 0, 'current_step defaults to 0');
select col_type_is('public', 'onboarding_progress', 'completed_steps', 'integer[]', 'completed_steps is integer[]');
select col_type_is('public', 'onboarding_progress', 'last_activity', 'timestamp with time zone', 'last_activity is a timestamptz');
select col_not_null('public', 'onboarding_progress', 'last_activity', 'last_activity is not null');
select col_type_is('public', 'onboarding_progress', 'is_complete', 'boolean', 'is_complete is a boolean');
select col_default_is('public', 'onboarding_progress', 'is_complete', 'false', 'is_complete defaults to false');
select ok(exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                   where i.indrelid = 'public.onboarding_progress'::regclass and a.attname = 'session_id'),
  'an index leads with session_id');
select ok(exists (select 1 from pg_publication_tables
                   where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'onboarding_progress'),
  'onboarding_progress is in the supabase_realtime publication');

-- anon: nothing.
select tests.as_anon();
select throws_ok($$insert into public.onboarding_progress (user_id, current_step) values (gen_random_uuid(), 0)$$,
  '42501', null, 'anon cannot save progress');
select throws_ok($$select * from public.onboarding_progress$$, '42501', null, 'anon cannot read progress');

-- The talent: the wizard's first autosave is step 0, with a forged last_activity.
select tests.as_user('talent');
select lives_ok($$insert into public.onboarding_progress (session_id, current_step, completed_steps, last_activity, form_data)
                  values ('sess-talent-1', 0, '{}', '2000-01-01', '{"basicInfo": {"name": "Ada"}}')$$,
  'a talent saves step 0 (the first autosave)');
select results_eq($$select current_step, is_complete, last_activity from public.onboarding_progress where user_id = auth.uid()$$,
  $$values (0, false, now())$$,
  'stored at step 0, not complete, last_activity set by the database, not the client');

-- An update moves last_activity, whatever the client sends.
select tests.as_postgres();
alter table public.onboarding_progress disable trigger onboarding_progress_before_write;
update public.onboarding_progress set last_activity = '2001-01-01' where user_id = tests.id('talent');
alter table public.onboarding_progress enable trigger onboarding_progress_before_write;
select tests.as_user('talent');
select is(tests.affected($$update public.onboarding_progress
                             set current_step = 4, completed_steps = '{0,1,2,3}', is_complete = true, last_activity = '1999-01-01'
                           where user_id = auth.uid()$$), 1, 'a talent updates their own progress');
select results_eq($$select current_step, completed_steps, is_complete, last_activity from public.onboarding_progress where user_id = auth.uid()$$,
  $$values (4, '{0,1,2,3}'::integer[], true, now())$$,
  'step, completed steps and is_complete stored; last_activity is now again');
select throws_ok($$update public.onboarding_progress set completed_steps = '{0,21}' where user_id = auth.uid()$$,
  '23514', 'new row for relation "onboarding_progress" violates check constraint "onboarding_progress_completed_steps_range"',
  'a completed step above 20 is refused');
select throws_ok($$update public.onboarding_progress set completed_steps = '{0,null}' where user_id = auth.uid()$$,
  '23514', 'new row for relation "onboarding_progress" violates check constraint "onboarding_progress_completed_steps_range"',
  'a null completed step is refused');
select is(tests.visible('public.onboarding_progress', $$session_id = 'sess-talent-1'$$), 1, 'a talent finds their draft by session_id');

-- Another talent: cannot see, change or forge the first talent's row.
select tests.as_user('other');
select is(tests.visible('public.onboarding_progress', format('user_id = %L', tests.id('talent'))), 0,
  'another talent does not see the progress');
select is(tests.affected(format('update public.onboarding_progress set current_step = 9 where user_id = %L', tests.id('talent'))), 0,
  'another talent updates 0 rows');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent'))), 0,
  'another talent deletes 0 rows');
select throws_ok(format('insert into public.onboarding_progress (user_id, current_step) values (%L, 0)', tests.id('talent')),
  '42501', null, 'another talent cannot save progress for the talent');

-- Admins read every draft (the dashboard), but do not write them.
select tests.as_user('admin');
select is(tests.visible('public.onboarding_progress', format('user_id = %L', tests.id('talent'))), 1, 'an admin reads the progress');
select is(tests.affected(format('update public.onboarding_progress set current_step = 9 where user_id = %L', tests.id('talent'))), 0,
  'an admin updates 0 rows of a talent''s progress');
select tests.as_user('super');
select is(tests.visible('public.onboarding_progress', format('user_id = %L', tests.id('talent'))), 1, 'a super admin reads the progress');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent'))), 0,
  'a super admin deletes 0 rows of a talent''s progress');

-- The service writes anything, and last_activity is still the database's.
select tests.as_postgres();
alter table public.onboarding_progress disable trigger onboarding_progress_before_write;
update public.onboarding_progress set last_activity = '2001-01-01' where user_id = tests.id('talent');
alter table public.onboarding_progress enable trigger onboarding_progress_before_write;
select tests.as_service();
select is(tests.affected(format($$update public.onboarding_progress set current_step = 2, last_activity = '1990-01-01' where user_id = %L$$,
  tests.id('talent'))), 1, 'the service updates a talent''s progress');
select is((select last_activity from public.onboarding_progress where user_id = tests.id('talent')), now(),
  'last_activity is set by the database for the service too');

-- The talent clears their draft (DELETE /api/talent/draft).
select tests.as_user('talent');
select is(tests.affected($$delete from public.onboarding_progress where user_id = auth.uid()$$), 1, 'a talent deletes their own progress');
select tests.as_user('other');
select lives_ok($$insert into public.onboarding_progress (session_id) values ('sess-other')$$, 'defaults suffice for a new draft');
select results_eq($$select current_step, completed_steps, is_complete from public.onboarding_progress where user_id = auth.uid()$$,
  $$values (0, '{}'::integer[], false)$$, 'a new draft starts at step 0 with nothing completed');

select * from finish();
rollback;
