-- admin_resend_email(id): admins put a failed or bounced email back in the outbox
-- (issue 15, item 10); the row becomes claimable exactly as the sender claims rows
-- (status queued, next_attempt_at due). Also the sent_at index (item 9).
begin;
\ir _helpers.psql
select plan(27);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('talent', 'submitted');

insert into public.email_notifications (id, talent_profile_id, email_type, recipient_email, subject, content,
                                        idempotency_key, status, attempts, next_attempt_at, last_error,
                                        provider_message_id, sent_at, delivered_at, bounce_reason)
values
  ('00000000-0000-4000-e000-000000000001', tests.id('talent.profile'), 'welcome', 'a@example.com', 'Welcome', 'Hi',
   'test:resend:failed', 'failed', 8, now() + interval '1 day', 'gave up after 8 attempts: 503', null, null, null, null),
  ('00000000-0000-4000-e000-000000000002', tests.id('talent.profile'), 'approval', 'a@example.com', 'Approved', 'Yes',
   'test:resend:bounced', 'bounced', 1, now() + interval '1 day', null, 'sg-old-1', now() - interval '1 hour', null, 'mailbox full'),
  ('00000000-0000-4000-e000-000000000003', tests.id('talent.profile'), 'welcome', 'a@example.com', 'Welcome', 'Hi',
   'test:resend:queued', 'queued', 0, now(), null, null, null, null, null),
  ('00000000-0000-4000-e000-000000000004', tests.id('talent.profile'), 'welcome', 'a@example.com', 'Welcome', 'Hi',
   'test:resend:sent', 'sent', 1, now(), null, 'sg-2', now(), null, null),
  ('00000000-0000-4000-e000-000000000005', tests.id('talent.profile'), 'welcome', 'a@example.com', 'Welcome', 'Hi',
   'test:resend:delivered', 'delivered', 1, now(), null, 'sg-3', now(), now(), null),
  ('00000000-0000-4000-e000-000000000006', tests.id('talent.profile'), 'rejection', 'a@example.com', 'Sorry', 'No',
   'test:resend:failed2', 'failed', 3, now() + interval '1 day', 'held back: flood limit', null, null, null, null);

-- What the sidecar's outbox claims (sidecar/internal/email/outbox.go).
create function tests.claimable(eid uuid) returns boolean language sql stable as $$
  select exists (select 1 from public.email_notifications where id = eid and status = 'queued' and next_attempt_at <= now())
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

select has_index('public', 'email_notifications', 'email_notifications_sent_at_idx', array['sent_at'], 'email_notifications(sent_at) is indexed');
select function_privs_are('public', 'admin_resend_email', array['uuid'], 'anon', array[]::text[], 'anon may not execute admin_resend_email');
select is((select p.prosecdef from pg_proc p where p.oid = 'public.admin_resend_email(uuid)'::regprocedure), false,
  'the exposed RPC is security invoker (its definer helper lives in private)');

select tests.as_anon();
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000001')$$, '42501', null, 'anon cannot re-send');

select tests.as_user('talent');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000001')$$,
  '42501', 'admin_resend_email is for admins only', 'the email''s own talent cannot re-send it');
select throws_ok($$select private.email_requeue('00000000-0000-4000-e000-000000000001')$$,
  '42501', 'admin_resend_email is for admins only', 'nor call the private helper directly');
select throws_ok($$update public.email_notifications set status = 'queued' where id = '00000000-0000-4000-e000-000000000001'$$,
  '42501', null, 'nor re-queue it by hand');
select tests.as_user('other');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000002')$$,
  '42501', 'admin_resend_email is for admins only', 'another talent cannot re-send');

-- An admin re-sends a failed email: it is queued as new and claimable now.
select tests.as_user('admin');
select throws_ok($$update public.email_notifications set status = 'queued' where id = '00000000-0000-4000-e000-000000000001'$$,
  '42501', null, 'an admin still cannot write email_notifications directly');
select is((public.admin_resend_email('00000000-0000-4000-e000-000000000001')).status, 'queued', 'an admin re-sends a failed email');
select tests.as_postgres();
select results_eq($$select status::text, attempts, last_error, next_attempt_at <= now(), provider_message_id, sent_at
                      from public.email_notifications where id = '00000000-0000-4000-e000-000000000001'$$,
  $$values ('queued'::text, 0, null::text, true, null::text, null::timestamptz)$$,
  'queued, no attempts, no error, due now');
select ok(tests.claimable('00000000-0000-4000-e000-000000000001'), 'the outbox can claim it again');
select results_eq($$select idempotency_key, recipient_email, content from public.email_notifications where id = '00000000-0000-4000-e000-000000000001'$$,
  $$values ('test:resend:failed'::text, 'a@example.com'::text, 'Hi'::text)$$, 'same email: key, recipient and content kept');

-- A bounced one: the old provider id and send time go, so the new send records its own.
select tests.as_user('super');
select is((public.admin_resend_email('00000000-0000-4000-e000-000000000002')).status, 'queued', 'a super admin re-sends a bounced email');
select tests.as_postgres();
select results_eq($$select status::text, attempts, provider_message_id, sent_at, delivered_at from public.email_notifications where id = '00000000-0000-4000-e000-000000000002'$$,
  $$values ('queued'::text, 0, null::text, null::timestamptz, null::timestamptz)$$, 'the previous send''s provider id and time are cleared');
select ok(tests.claimable('00000000-0000-4000-e000-000000000002'), 'the bounced email is claimable again');

-- Anything not failed or bounced is refused, naming its status.
select tests.as_user('admin');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000001')$$,
  '23514', 'only a failed or bounced email can be re-sent; this one is queued', 'a queued email (just re-sent) is refused');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000003')$$,
  '23514', 'only a failed or bounced email can be re-sent; this one is queued', 'a queued email is refused');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000004')$$,
  '23514', 'only a failed or bounced email can be re-sent; this one is sent', 'a sent email is refused');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-000000000005')$$,
  '23514', 'only a failed or bounced email can be re-sent; this one is delivered', 'a delivered email is refused');
select throws_ok($$select public.admin_resend_email('00000000-0000-4000-e000-0000000000ff')$$,
  '22023', 'no email notification 00000000-0000-4000-e000-0000000000ff', 'an unknown id is refused');
select throws_ok($$select public.admin_resend_email(null)$$,
  '22023', 'id must name an email notification', 'a null id is refused');
select tests.as_postgres();
select results_eq($$select status::text, attempts from public.email_notifications where id in ('00000000-0000-4000-e000-000000000004', '00000000-0000-4000-e000-000000000005') order by id$$,
  $$values ('sent'::text, 1), ('delivered'::text, 1)$$, 'refused calls changed nothing');

-- The service role may re-send too (ops).
select tests.as_service();
select is((public.admin_resend_email('00000000-0000-4000-e000-000000000006')).status, 'queued', 'the service re-sends a held-back email');
select tests.as_postgres();
select is((select last_error from public.email_notifications where id = '00000000-0000-4000-e000-000000000006'), null::text, 'its last_error is cleared');

-- The talent sees the re-queued email as before (own emails).
select tests.as_user('talent');
select is(tests.visible('public.email_notifications', $$id = '00000000-0000-4000-e000-000000000001'$$), 1, 'the talent still reads their email');
select tests.as_user('other');
select is(tests.visible('public.email_notifications', $$id = '00000000-0000-4000-e000-000000000001'$$), 0, 'another talent does not');

select * from finish();
rollback;
