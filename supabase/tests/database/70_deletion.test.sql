-- Deleting a talent: super_admin only; the deleter is recorded in sidecar.talent_deletions
-- in the same transaction; the audit log and the email history survive (set null).
begin;
\ir _helpers.psql
select plan(17);

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
select throws_ok('select * from sidecar.talent_deletions', '42501', null, 'API roles cannot read sidecar.talent_deletions');

select tests.as_user('super');
select is(tests.affected(format('delete from public.talent_profiles where id = %L', tests.id('talent.profile'))), 1, 'a super_admin deletes');
select throws_ok('select * from sidecar.talent_deletions', '42501', null, 'not even a super_admin reads the tombstones');

select tests.as_postgres();
select results_eq(format('select deleted_by, deleted_role, xid = pg_current_xact_id() from sidecar.talent_deletions where talent_profile_id = %L', tests.id('talent.profile')),
  format('values (%L::uuid, %L::text, true)', tests.id('super'), 'postgres/authenticated'),
  'the tombstone names the super_admin, the role, and this transaction');
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
select results_eq(format('select deleted_by, deleted_role from sidecar.talent_deletions where talent_profile_id = %L', tests.id('gone.profile')),
  $$values (null::uuid, 'postgres/service_role'::text)$$, 'a service deletion is recorded without an end-user actor');
select is(tests.visible('sidecar.talent_deletions'), 2, 'service_role reads the tombstones');
select throws_ok('insert into sidecar.talent_deletions (talent_profile_id, deleted_role) values (gen_random_uuid(), $$x$$)',
  '42501', null, 'nobody forges tombstones through the API, not even service_role');

-- Deleting the auth user (account removal) cascades to the profile and is recorded too.
select tests.as_postgres();
select tests.new_user('leaver');
select tests.new_profile('leaver', 'active');
delete from auth.users where id = tests.id('leaver');
select is_empty(format('select 1 from public.talent_profiles where id = %L', tests.id('leaver.profile')), 'removing the user removes the profile');
select ok(exists (select 1 from sidecar.talent_deletions where talent_profile_id = tests.id('leaver.profile')), 'and records the deletion');
select is((select deleted_by from sidecar.talent_deletions where talent_profile_id = tests.id('leaver.profile')), null::uuid,
  'with no end-user actor');

select * from finish();
rollback;
