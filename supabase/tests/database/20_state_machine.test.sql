-- The status state machine of DESIGN.md: every allowed transition with its actor, every
-- refused one with an error naming it and the allowed ones, server-set timestamps,
-- actor stamping and row_version increments.
begin;
\ir _helpers.psql
select plan(71);

select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_user('other');
select tests.new_user('p_' || s) from unnest(array['draft', 'submitted', 'approved', 'rejected', 'active', 'inactive']) s;
select tests.new_profile('p_' || s, s) from unnest(array['draft', 'submitted', 'approved', 'rejected', 'active', 'inactive']) s;

-- Refused transitions: 23 pairs, each refused with 23514, naming the pair and what is allowed.
select tests.as_user('admin');
select is(
  tests.error_of(format('update public.talent_profiles set status = %L where id = %L', t.to_s, tests.id('p_' || f.from_s || '.profile'))),
  format('23514: invalid status transition %s -> %s | Allowed from %s: %s.', f.from_s, t.to_s, f.from_s, f.allowed),
  format('%s -> %s is refused, naming the allowed transitions', f.from_s, t.to_s))
from (values ('draft', 'submitted'), ('submitted', 'approved, rejected'), ('approved', 'active'),
             ('rejected', 'draft'), ('active', 'inactive'), ('inactive', 'active')) f (from_s, allowed)
cross join unnest(array['draft', 'submitted', 'approved', 'rejected', 'active', 'inactive']) t (to_s)
where t.to_s <> f.from_s and not t.to_s = any (string_to_array(f.allowed, ', '))
order by f.from_s, t.to_s;

select is(tests.error_of(format('update public.talent_profiles set status = %L where id = %L', 'deleted', tests.id('p_active.profile'))),
  '22P02: invalid input value for enum talent_status: "deleted"',
  '"deleted" is not a status (deletion is a delete; status is an enum)');

-- Wrong actor for each allowed transition: 42501.
select is(tests.error_of(format('update public.talent_profiles set status = %L where id = %L', 'submitted', tests.id('p_draft.profile'))),
  '42501: only the profile''s talent may move a profile from draft to submitted',
  'an admin cannot submit a talent''s draft');
select tests.as_user('p_submitted');
select is(tests.error_of(format('update public.talent_profiles set status = %L where id = %L', 'approved', tests.id('p_submitted.profile'))),
  '42501: this profile is submitted and can no longer be edited by its talent',
  'a talent cannot approve themselves');
select is(tests.error_of(format('update public.talent_profiles set status = %L, rejection_reason = %L where id = %L', 'rejected', 'meh', tests.id('p_submitted.profile'))),
  '42501: this profile is submitted and can no longer be edited by its talent',
  'a talent cannot reject themselves');
select is(tests.error_of(format('update public.talent_profiles set status = %L where id = %L', 'draft', tests.id('p_submitted.profile'))),
  '42501: this profile is submitted and can no longer be edited by its talent',
  'a talent cannot withdraw a submission back to draft');
select tests.as_user('p_approved');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'active', tests.id('p_approved.profile')),
  '42501', 'this profile is approved and can no longer be edited by its talent', 'a talent cannot activate themselves');
select tests.as_user('p_active');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'inactive', tests.id('p_active.profile')),
  '42501', 'this profile is active and can no longer be edited by its talent', 'a talent cannot deactivate themselves');
select tests.as_user('p_inactive');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'active', tests.id('p_inactive.profile')),
  '42501', 'this profile is inactive and can no longer be edited by its talent', 'a talent cannot reactivate themselves');
select tests.as_user('p_rejected');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'draft', tests.id('p_rejected.profile')),
  '42501', 'this profile is rejected and can no longer be edited by its talent', 'a talent cannot reopen themselves');
select throws_ok(format('update public.talent_profiles set freeform_text = %L where id = %L', 'edited after rejection', tests.id('p_rejected.profile')),
  '42501', 'this profile is rejected and can no longer be edited by its talent', 'a talent cannot edit a non-draft profile');
select tests.as_user('other');
select is(tests.affected(format('update public.talent_profiles set status = %L where id = %L', 'submitted', tests.id('p_draft.profile'))),
  0, 'another user cannot submit someone''s draft (0 rows)');

-- Incomplete transitions: 23514.
select tests.as_postgres();
select tests.new_user('noname');
insert into public.talent_profiles (user_id, email) values (tests.id('noname'), 'noname@example.com');
select tests.new_user('nomail');
insert into public.talent_profiles (user_id, name) values (tests.id('nomail'), 'No Mail');
select tests.as_user('noname');
select throws_ok($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$,
  '23514', 'cannot submit a profile without a name and an email', 'submit without a name is refused');
select throws_ok($$update public.talent_profiles set status = 'submitted', name = '   ' where user_id = auth.uid()$$,
  '23514', 'cannot submit a profile without a name and an email', 'submit with a blank name is refused');
select tests.as_user('nomail');
select throws_ok($$update public.talent_profiles set status = 'submitted' where user_id = auth.uid()$$,
  '23514', 'cannot submit a profile without a name and an email', 'submit without an email is refused');
select tests.as_user('admin');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'rejected', tests.id('p_submitted.profile')),
  '23514', 'rejecting a profile needs a rejection_reason', 'rejection without a reason is refused');
select throws_ok(format('update public.talent_profiles set status = %L, rejection_reason = %L where id = %L', 'rejected', E' \n ', tests.id('p_submitted.profile')),
  '23514', 'rejecting a profile needs a rejection_reason', 'rejection with a blank reason is refused');

-- An admin with a profile of their own is its talent there, never its reviewer.
select tests.as_postgres();
select tests.new_profile('admin', 'submitted');
select tests.as_user('admin');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'approved', tests.id('admin.profile')),
  '42501', 'this profile is submitted and can no longer be edited by its talent', 'an admin cannot approve their own profile');
select throws_ok(format('update public.talent_profiles set admin_notes = %L where id = %L', 'I am great', tests.id('admin.profile')),
  '42501', null, 'an admin cannot annotate their own profile');

-- Allowed transitions, each by its actor, with timestamps, stamping and row_version.
select tests.as_postgres();
select tests.new_user('walker');
insert into public.talent_profiles (user_id, name, email) select id, 'Walker', email from tests.ids where label = 'walker';
insert into tests.ids select 'walker.profile', id, null from public.talent_profiles where user_id = tests.id('walker');

create function tests.walker() returns public.talent_profiles language sql as $$
  select p from public.talent_profiles p where p.id = tests.id('walker.profile')
$$;

select tests.as_user('walker');
select is(tests.affected(format(
  'update public.talent_profiles set location = %L, submitted_at = %L, approved_at = %L, activated_at = %L, row_version = 99, updated_by = %L where id = %L',
  'Oslo', '2000-01-01', '2000-01-01', '2000-01-01', tests.id('admin'), tests.id('walker.profile'))), 1, 'the talent edits their draft');
select tests.as_postgres();
select is((tests.walker()).submitted_at, null, 'client-provided submitted_at is ignored');
select is((tests.walker()).approved_at, null, 'client-provided approved_at is ignored');
select is((tests.walker()).activated_at, null, 'client-provided activated_at is ignored');
select is((tests.walker()).row_version, 2, 'client-provided row_version is ignored; row_version incremented to 2');
select is((tests.walker()).updated_by, tests.id('walker'), 'updated_by is stamped from auth.uid(), not the client');

select tests.as_user('walker');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'submitted', tests.id('walker.profile')),
  'draft -> submitted by the talent');
select tests.as_postgres();
select is((tests.walker()).status, 'submitted', 'status is submitted');
select is((tests.walker()).submitted_at, now(), 'submitted_at set by trigger');
select is((tests.walker()).row_version, 3, 'row_version 3');

select tests.as_user('admin');
select lives_ok(format('update public.talent_profiles set status = %L, admin_notes = %L, approved_at = %L where id = %L',
  'approved', 'Strong sample', '1999-12-31', tests.id('walker.profile')), 'submitted -> approved by an admin');
select tests.as_postgres();
select is((tests.walker()).approved_at, now(), 'approved_at set by trigger, client value ignored');
select is((tests.walker()).updated_by, tests.id('admin'), 'updated_by is the admin');
select is((tests.walker()).row_version, 4, 'row_version 4');

select tests.as_user('super');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'active', tests.id('walker.profile')),
  'approved -> active by a super_admin');
select tests.as_postgres();
select is((tests.walker()).activated_at, now(), 'activated_at set by trigger');
select is((tests.walker()).updated_by, tests.id('super'), 'updated_by is the super_admin');

select tests.as_user('admin');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'inactive', tests.id('walker.profile')),
  'active -> inactive by an admin');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'active', tests.id('walker.profile')),
  'inactive -> active by an admin');
select tests.as_postgres();
select is(((tests.walker()).status, (tests.walker()).row_version), ('active'::public.talent_status, 7), 'active again, row_version 7');

select tests.as_user('admin');
select lives_ok(format('update public.talent_profiles set status = %L, rejection_reason = %L where id = %L',
  'rejected', 'Sample too short.', tests.id('p_submitted.profile')), 'submitted -> rejected with a reason by an admin');
select is((select rejection_reason from public.talent_profiles where id = tests.id('p_submitted.profile')),
  'Sample too short.', 'the reason is stored');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'draft', tests.id('p_rejected.profile')),
  'rejected -> draft (reopen) by an admin');
select tests.as_user('p_rejected');
select is(tests.affected(format('update public.talent_profiles set freeform_text = %L where id = %L', 'Longer sample now.', tests.id('p_rejected.profile'))),
  1, 'a reopened profile is editable by its talent again');
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'submitted', tests.id('p_rejected.profile')),
  'the talent resubmits');

-- The service (sidecar, ops) follows the machine too, and is stamped as nobody.
select tests.as_service();
select lives_ok(format('update public.talent_profiles set status = %L where id = %L', 'active', tests.id('p_approved.profile')),
  'approved -> active by the service');
select throws_ok(format('update public.talent_profiles set status = %L where id = %L', 'submitted', tests.id('p_approved.profile')),
  '23514', 'invalid status transition active -> submitted', 'the service cannot skip the machine');
select tests.as_postgres();
select is((select updated_by from public.talent_profiles where id = tests.id('p_approved.profile')), null::uuid,
  'a service change has no end-user actor');

-- Inserts through the API ignore client timestamps and row_version.
select tests.new_user('fresh');
select tests.as_user('fresh');
select lives_ok($$insert into public.talent_profiles (name, submitted_at, approved_at, activated_at, row_version, created_at, updated_by)
                  values ('Fresh', '2001-01-01', '2001-01-01', '2001-01-01', 42, '2001-01-01', gen_random_uuid())$$,
  'a talent inserts a draft carrying forged server columns');
select tests.as_postgres();
select results_eq(
  format('select submitted_at, approved_at, activated_at, row_version, created_at, updated_by from public.talent_profiles where user_id = %L', tests.id('fresh')),
  format('values (null::timestamptz, null::timestamptz, null::timestamptz, 1, now(), %L::uuid)', tests.id('fresh')),
  'inserted profile: no review timestamps, row_version 1, created now, stamped with the talent');

select * from finish();
rollback;
