-- onboarding_progress, admin_users, admin_actions, email_notifications and
-- sidecar_dead_letters: every API role against select / insert / update / delete.
begin;
\ir _helpers.psql
select plan(70);

select tests.new_user('talent_a');
select tests.new_user('talent_b');
select tests.new_user('talent_c');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('talent_a', 'submitted');
select tests.new_profile('talent_b');

insert into public.onboarding_progress (user_id, talent_profile_id, current_step, form_data) values
  (tests.id('talent_a'), tests.id('talent_a.profile'), 4, '{"name": "A"}'),
  (tests.id('talent_b'), tests.id('talent_b.profile'), 2, '{"name": "B"}');
insert into public.admin_actions (talent_profile_id, action_type, admin_user_id, from_status, to_status, source, idempotency_key)
values (tests.id('talent_a.profile'), 'approve', tests.id('admin'), 'submitted', 'approved', 'replication', 'test:a:1');
insert into public.email_notifications (talent_profile_id, email_type, recipient_email, subject, content, idempotency_key) values
  (tests.id('talent_a.profile'), 'welcome', 'a@example.com', 'Welcome', 'Hi A', 'test:welcome:a'),
  (tests.id('talent_a.profile'), 'admin_new_submission', 'ops@example.com', 'New submission', 'A submitted', 'test:admin:a'),
  (tests.id('talent_b.profile'), 'welcome', 'b@example.com', 'Welcome', 'Hi B', 'test:welcome:b');
insert into public.sidecar_dead_letters (source, idempotency_key, table_name, operation, reason)
values ('replication', 'test:dead:1', 'talent_profiles', 'UPDATE', 'unknown transition');

-- anon: nothing on any of these tables.
select tests.as_anon();
select throws_ok(format('select * from %s', t), '42501', null, format('anon cannot select %s', t))
  from unnest(array['public.onboarding_progress', 'public.admin_users', 'public.admin_actions',
                    'public.email_notifications', 'public.sidecar_dead_letters']) t;
select throws_ok($$insert into public.onboarding_progress (user_id) values (gen_random_uuid())$$, '42501', null, 'anon cannot insert onboarding_progress');
select throws_ok($$update public.onboarding_progress set current_step = 1$$, '42501', null, 'anon cannot update onboarding_progress');
select throws_ok($$delete from public.onboarding_progress$$, '42501', null, 'anon cannot delete onboarding_progress');
select throws_ok(format('insert into public.admin_users (id, role) values (%L, %L)', tests.id('talent_a'), 'super_admin'), '42501', null, 'anon cannot insert admin_users');
select throws_ok($$delete from public.admin_actions$$, '42501', null, 'anon cannot delete admin_actions');
select throws_ok($$update public.email_notifications set status = 'sent'$$, '42501', null, 'anon cannot update email_notifications');

-- onboarding_progress ---------------------------------------------------------
select tests.as_user('talent_a');
select is(tests.visible('public.onboarding_progress'), 1, 'a talent sees only their own draft');
select is(tests.affected(format('update public.onboarding_progress set current_step = 5, form_data = %L where user_id = %L', '{"name": "A2"}', tests.id('talent_a'))),
  1, 'a talent updates their own draft');
select throws_ok(format('update public.onboarding_progress set user_id = %L where user_id = %L', tests.id('talent_b'), tests.id('talent_a')),
  '42501', null, 'a talent cannot move their draft to another user');
select throws_ok(format('update public.onboarding_progress set talent_profile_id = %L where user_id = %L', tests.id('talent_b.profile'), tests.id('talent_a')),
  '42501', 'talent_profile_id must be your own profile', 'a talent cannot point their draft at another profile');
select throws_ok(format('insert into public.onboarding_progress (user_id) values (%L)', tests.id('talent_c')),
  '42501', null, 'a talent cannot create a draft for another user');
select tests.as_user('talent_b');
select is_empty(format('select * from public.onboarding_progress where user_id = %L', tests.id('talent_a')), 'another talent does not see the draft');
select is(tests.affected(format('update public.onboarding_progress set form_data = %L where user_id = %L', '{}', tests.id('talent_a'))),
  0, 'another talent updates 0 drafts');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent_a'))),
  0, 'another talent deletes 0 drafts');
select tests.as_user('talent_c');
select lives_ok($$insert into public.onboarding_progress (session_id, form_data) values ('s-c', '{"step": 1}')$$,
  'a new user saves their first draft (user_id defaults to auth.uid())');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent_c'))),
  1, 'a talent deletes their own draft');
select tests.as_user('admin');
select is(tests.visible('public.onboarding_progress', format('user_id in (%L, %L)', tests.id('talent_a'), tests.id('talent_b'))),
  2, 'an admin reads every draft');
select is(tests.affected(format('update public.onboarding_progress set form_data = %L where user_id = %L', '{}', tests.id('talent_a'))),
  0, 'an admin cannot change a talent''s draft (0 rows)');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent_a'))),
  0, 'an admin cannot delete a talent''s draft (0 rows)');
select throws_ok(format('insert into public.onboarding_progress (user_id) values (%L)', tests.id('talent_c')),
  '42501', null, 'an admin cannot create a draft for a talent');
select tests.as_user('super');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent_a'))),
  0, 'a super_admin cannot delete a talent''s draft either (0 rows)');
select tests.as_service();
select is(tests.affected(format('update public.onboarding_progress set current_step = 6 where user_id = %L', tests.id('talent_b'))),
  1, 'service_role updates drafts');
select is(tests.affected(format('delete from public.onboarding_progress where user_id = %L', tests.id('talent_b'))),
  1, 'service_role deletes drafts');

-- admin_users -----------------------------------------------------------------
select tests.as_user('talent_a');
select is(tests.visible('public.admin_users'), 0, 'a talent sees no admins');
select throws_ok(format('insert into public.admin_users (id, role) values (%L, %L)', tests.id('talent_a'), 'super_admin'),
  '42501', null, 'a talent cannot make themselves an admin');
select throws_ok($$update public.admin_users set role = 'admin'$$, '42501', null, 'a talent cannot update admin_users');
select throws_ok($$delete from public.admin_users$$, '42501', null, 'a talent cannot delete admin_users');
select tests.as_user('admin');
select is(tests.visible('public.admin_users', format('id in (%L, %L)', tests.id('admin'), tests.id('super'))), 2, 'an admin sees the admin list');
select throws_ok(format('update public.admin_users set role = %L where id = %L', 'super_admin', tests.id('admin')),
  '42501', null, 'an admin cannot promote themselves');
select throws_ok(format('insert into public.admin_users (id, role) values (%L, %L)', tests.id('talent_a'), 'admin'),
  '42501', null, 'an admin cannot create admins');
select throws_ok(format('delete from public.admin_users where id = %L', tests.id('super')),
  '42501', null, 'an admin cannot remove admins');
select tests.as_user('super');
select throws_ok(format('insert into public.admin_users (id, role) values (%L, %L)', tests.id('talent_a'), 'admin'),
  '42501', null, 'a super_admin cannot create admins through the API (ops do, with the service role)');
select tests.as_service();
select lives_ok(format('insert into public.admin_users (id, role) values (%L, %L)', tests.id('talent_c'), 'admin'),
  'service_role creates admins');
select throws_ok(format('insert into public.admin_users (id, role) values (%L, %L)', tests.id('talent_b'), 'owner'),
  '22P02', null, 'admin_users.role is admin or super_admin (an enum)');
select is(tests.affected(format('delete from public.admin_users where id = %L', tests.id('talent_c'))), 1, 'service_role removes admins');

-- admin_actions: read by admins, written by the sidecar only ---------------------
select tests.as_user('talent_a');
select is_empty('select * from public.admin_actions', 'a talent does not see the audit log, even about themselves');
select throws_ok($$insert into public.admin_actions (action_type, source, idempotency_key) values ('approve', 'webhook', 'forged')$$,
  '42501', null, 'a talent cannot write the audit log');
select tests.as_user('admin');
select is(tests.visible('public.admin_actions', $$idempotency_key = 'test:a:1'$$), 1, 'an admin reads the audit log');
select throws_ok($$insert into public.admin_actions (action_type, source, idempotency_key) values ('approve', 'webhook', 'forged')$$,
  '42501', null, 'an admin cannot insert audit rows');
select throws_ok($$update public.admin_actions set action_reason = 'rewritten'$$, '42501', null, 'an admin cannot rewrite audit rows');
select throws_ok($$delete from public.admin_actions$$, '42501', null, 'an admin cannot delete audit rows');
select tests.as_user('super');
select throws_ok($$delete from public.admin_actions$$, '42501', null, 'a super_admin cannot delete audit rows');
select tests.as_service();
select lives_ok($$insert into public.admin_actions (action_type, source, idempotency_key) values ('activate', 'webhook', 'test:svc:1')$$,
  'service_role writes the audit log');
select throws_ok($$insert into public.admin_actions (action_type, source, idempotency_key) values ('activate', 'webhook', 'test:svc:1')$$,
  '23505', null, 'the idempotency key is unique');
select throws_ok($$insert into public.admin_actions (action_type, source, idempotency_key) values ('promote', 'webhook', 'test:svc:2')$$,
  '22P02', null, 'action_type is one of the known actions (an enum)');

-- email_notifications: a talent reads their own emails, admins all --------------
select tests.as_user('talent_a');
select results_eq('select email_type from public.email_notifications order by email_type',
  $$values ('welcome'::public.email_type)$$, 'a talent sees their own emails, not the admin notice about them');
select throws_ok($$insert into public.email_notifications (email_type, recipient_email, subject, content, idempotency_key) values ('welcome', 'x@example.com', 's', 'c', 'forged')$$,
  '42501', null, 'a talent cannot queue emails');
select throws_ok($$update public.email_notifications set status = 'delivered'$$, '42501', null, 'a talent cannot update emails');
select throws_ok($$delete from public.email_notifications$$, '42501', null, 'a talent cannot delete emails');
select tests.as_user('talent_b');
select results_eq('select recipient_email from public.email_notifications', $$values ('b@example.com'::text)$$,
  'another talent sees only their own email');
select tests.as_user('talent_c');
select is_empty('select * from public.email_notifications', 'a user without a profile sees no emails');
select tests.as_user('admin');
select is(tests.visible('public.email_notifications', $$idempotency_key like 'test:%'$$), 3, 'an admin sees every email');
select throws_ok($$update public.email_notifications set status = 'sent'$$, '42501', null, 'an admin cannot update emails');
select throws_ok($$insert into public.email_notifications (email_type, recipient_email, subject, content, idempotency_key) values ('welcome', 'x@example.com', 's', 'c', 'forged')$$,
  '42501', null, 'an admin cannot queue emails');
select throws_ok($$delete from public.email_notifications$$, '42501', null, 'an admin cannot delete emails');
select tests.as_service();
select is(tests.affected($$update public.email_notifications set status = 'sent', sent_at = now() where idempotency_key = 'test:welcome:a'$$),
  1, 'service_role updates emails');
select throws_ok($$update public.email_notifications set status = 'opened' where idempotency_key = 'test:welcome:a'$$,
  '22P02', null, 'email status is one of queued, sent, delivered, failed, bounced (an enum)');

-- sidecar_dead_letters --------------------------------------------------------
select tests.as_user('talent_a');
select is_empty('select * from public.sidecar_dead_letters', 'a talent sees no dead letters');
select throws_ok($$insert into public.sidecar_dead_letters (source, idempotency_key, reason) values ('x', 'y', 'z')$$,
  '42501', null, 'a talent cannot insert dead letters');
select tests.as_user('admin');
select is(tests.visible('public.sidecar_dead_letters'), 1, 'an admin reads dead letters');
select throws_ok($$insert into public.sidecar_dead_letters (source, idempotency_key, reason) values ('x', 'y', 'z')$$,
  '42501', null, 'an admin cannot insert dead letters');
select throws_ok($$update public.sidecar_dead_letters set reason = 'fine'$$, '42501', null, 'an admin cannot update dead letters');
select throws_ok($$delete from public.sidecar_dead_letters$$, '42501', null, 'an admin cannot delete dead letters');
select tests.as_service();
select lives_ok($$insert into public.sidecar_dead_letters (source, idempotency_key, reason) values ('webhook', 'test:dead:2', 'bad payload')$$,
  'service_role writes dead letters');
select is(tests.affected($$delete from public.sidecar_dead_letters where idempotency_key like 'test:dead:%'$$), 2, 'service_role deletes dead letters');

select * from finish();
rollback;
