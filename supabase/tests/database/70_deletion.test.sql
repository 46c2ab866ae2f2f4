-- Deleting a talent: super_admin only; the deletion and who made it are recorded in
-- sidecar.changes in the same transaction; the audit log and the email history
-- survive (set null).
begin;
\ir _helpers.psql
select plan(27);

select tests.new_user('talent');
select tests.new_user('gone');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('talent', 'rejected');
select tests.new_profile('gone', 'draft');
insert into public.onboarding_progress (user_id, talent_profile_id) values (tests.id('talent'), tests.id('talent.profile'));
insert into public.admin_actions (talent_profile_id, action_type, admin_user_id, from_status, to_status, talent_email, talent_name, source, idempotency_key)
values (tests.id('talent.profile'), 'reject', tests.id('admin'), 'submitted', 'rejected', 'talent@example.com', 'Test talent', 'replication', 'test:del:1');
insert into public.email_notifications (talent_profile_id, email_type, recipient_email, subject, content, idempotency_key)
values (tests.id('talent.profile'), 'rejection', 'talent@example.com', 'About your application', 'Sorry', 'test:del:mail');

select tests.as_user('talent');
select is(tests.affected('delete from public.talent_profiles'), 0, 'a talent cannot delete their profile');
select tests.as_user('admin');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent.profile'))), 0, 'an admin cannot delete');
select throws_ok('select * from sidecar.changes', '42501', null, 'API roles cannot read sidecar.changes');

select tests.as_user('super');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent.profile'))), 1, 'a super_admin deletes');
select throws_ok('select * from sidecar.changes', '42501', null, 'not even a super_admin reads the change records');

select tests.as_postgres();
select results_eq(format($$select actor_id, actor_role, op, old_row->>'email', new_row is null from sidecar.changes
                            where row_key = 'talent:' || %L and op = 'DELETE'$$, tests.id('talent.profile')),
  format('values (%L::uuid, %L::text, %L::text, %L::text, true)', tests.id('super'), 'super_admin', 'DELETE',
         (select email from tests.ids where label = 'talent')),
  'the change record names the super_admin and keeps the snapshot');
select results_eq(format('select talent_profile_id, talent_email, admin_user_id from public.admin_actions where idempotency_key = %L', 'test:del:1'),
  format('values (null::uuid, %L::text, %L::uuid)', 'talent@example.com', tests.id('admin')),
  'the audit row survives with its snapshot, talent_profile_id set null');
select results_eq($$select talent_profile_id, recipient_email from public.email_notifications where idempotency_key = 'test:del:mail'$$,
  $$values (null::uuid, 'talent@example.com'::text)$$, 'the email history survives');
select is_empty(format('select * from public.onboarding_progress where talent_profile_id = %L', tests.id('talent.profile')),
  'the saved draft linked to the profile goes with it');
select ok(exists (select 1 from auth.users where id = tests.id('talent')), 'the auth user is not deleted by deleting the profile');

select tests.as_service();
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('gone.profile'))), 1, 'service_role deletes');
select results_eq(format($$select actor_id, actor_role from sidecar.changes where row_key = 'talent:' || %L and op = 'DELETE'$$, tests.id('gone.profile')),
  $$values (null::uuid, 'service'::text)$$, 'a service deletion is recorded without an end-user actor');
select is(tests.visible('sidecar.changes', $$op = 'DELETE'$$), 2, 'service_role (the sidecar) reads the change records');
select throws_ok($$insert into sidecar.changes (row_key, table_name, op, actor_role) values ('talent:x', 'talent_profiles', 'DELETE', 'service')$$,
  '42501', null, 'nobody forges change records through the API, not even service_role');

-- Deleting the auth user (account removal) cascades to the profile and is recorded too.
select tests.as_postgres();
select tests.new_user('leaver');
select tests.new_profile('leaver', 'active');
delete from auth.users where id = tests.id('leaver');
select is_empty(format('select 1 from public.talent_profiles where id = %L', tests.id('leaver.profile')), 'removing the user removes the profile');
select ok(exists (select 1 from sidecar.changes where row_key = 'talent:' || tests.id('leaver.profile') and op = 'DELETE'),
  'and records the deletion');
select is((select actor_role from sidecar.changes where row_key = 'talent:' || tests.id('leaver.profile') and op = 'DELETE'), 'service',
  'with no end-user actor');

-- The references are kept without foreign keys (migration 20261122000200): a trigger
-- sets them to null, for every talent a statement deletes.
select tests.as_postgres();
select hasnt_fk('public', 'admin_actions', 'admin_actions names its talent without a foreign key');
select hasnt_fk('public', 'email_notifications', 'email_notifications too');
select tests.new_user('a1');
select tests.new_user('a2');
select tests.new_profile('a1', 'active');
select tests.new_profile('a2', 'active');
insert into public.admin_actions (talent_profile_id, action_type, admin_user_id, from_status, to_status, talent_email, talent_name, source, idempotency_key)
select tests.id(l || '.profile'), 'activate', tests.id('admin'), 'approved', 'active', l || '@example.com', l, 'replication', 'test:bulk:' || l || ':' || i
  from unnest(array['a1', 'a2']) l, generate_series(1, 2) i;
insert into public.email_notifications (talent_profile_id, email_type, recipient_email, subject, content, idempotency_key)
select tests.id(l || '.profile'), e::public.email_type, l || '@example.com', 's', 'c', 'test:bulk:' || l || ':' || e
  from unnest(array['a1', 'a2']) l, unnest(array['activation', 'admin_new_submission']) e;

-- Computed relationships stand in for the foreign keys in PostgREST's embedding, and
-- the embedded rows pass the caller's policies.
select tests.as_user('admin');
select results_eq(format('select p.id from public.admin_actions a, public.talent_profiles(a) p where a.idempotency_key = %L', 'test:bulk:a1:1'),
  format('values (%L::uuid)', tests.id('a1.profile')), 'an admin embeds the talent of an audit row');
select is((select count(*)::int from public.talent_profiles t, public.admin_actions(t) a where t.id = tests.id('a2.profile')), 2,
  'and the audit rows of a talent');
select tests.as_user('a1');
select results_eq($$select e.email_type from public.talent_profiles t, public.email_notifications(t) e$$,
  $$values ('activation'::public.email_type)$$, 'a talent embeds their own emails, not the notice sent to admins');
select is((select count(*)::int from public.talent_profiles t, public.admin_actions(t) a), 0,
  'and no audit rows, which only admins read');
select tests.as_anon();
select throws_ok($$select * from public.talent_profiles(null::public.admin_actions)$$, '42501', null,
  'anon cannot call the relationship functions');

select tests.as_postgres();
select is(tests.affected(format('delete from public.talent_profiles where id in (%L, %L)', tests.id('a1.profile'), tests.id('a2.profile'))), 2,
  'one statement deletes two talents');
select is((select count(*)::int from public.admin_actions where idempotency_key like 'test:bulk:%' and talent_profile_id is null), 4,
  'every audit row of both is kept, set null');
select is((select count(*)::int from public.email_notifications where idempotency_key like 'test:bulk:%' and talent_profile_id is null), 4,
  'every email of both is kept, set null');

select * from finish();
rollback;
