-- email_settings / email_templates: admins edit content columns only (column grants);
-- any API edit clears applied_at/apply_error (the sidecar sets them again); talents and
-- anon see nothing.
begin;
\ir _helpers.psql
select plan(30);

select tests.new_user('talent');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');

insert into public.email_settings (id, from_email, portal_url) values (true, 'talent@example.com', 'https://talent.example.com')
on conflict (id) do nothing;
insert into public.email_templates (name, subject, html_body, text_body)
values ('welcome', 'Welcome', '<p>Hi {{.TalentName}}</p>', 'Hi {{.TalentName}}')
on conflict (name) do nothing;
update public.email_settings set applied_at = now() - interval '1 hour', apply_error = 'old error';
update public.email_templates set applied_at = now() - interval '1 hour', apply_error = 'old error' where name = 'welcome';

select tests.as_anon();
select throws_ok('select * from public.email_settings', '42501', null, 'anon cannot read email_settings');
select throws_ok('select * from public.email_templates', '42501', null, 'anon cannot read email_templates');
select throws_ok($$update public.email_templates set subject = 'x'$$, '42501', null, 'anon cannot update email_templates');

select tests.as_user('talent');
select is_empty('select * from public.email_settings', 'a talent does not see email_settings');
select is_empty('select * from public.email_templates', 'a talent does not see email_templates');
select is(tests.affected($$update public.email_settings set from_email = 'evil@example.com'$$), 0, 'a talent updates 0 settings rows');
select is(tests.affected($$update public.email_templates set subject = 'Phish'$$), 0, 'a talent updates 0 templates');
select throws_ok($$insert into public.email_templates (name, subject, html_body, text_body) values ('approval', 's', 'h', 't')$$,
  '42501', null, 'a talent cannot insert templates');
select throws_ok($$delete from public.email_templates$$, '42501', null, 'a talent cannot delete templates');

select tests.as_user('admin');
select is(tests.visible('public.email_settings'), 1, 'an admin reads the settings row');
select ok(tests.visible('public.email_templates', $$name = 'welcome'$$) = 1, 'an admin reads templates');
select is(tests.affected($$update public.email_settings set from_email = 'hello@example.com', admin_recipients = '{ops@example.com}'$$),
  1, 'an admin edits settings content');
select is(tests.affected($$update public.email_templates set subject = 'Welcome aboard, {{.TalentName}}' where name = 'welcome'$$),
  1, 'an admin edits a template');
select throws_ok($$update public.email_settings set applied_at = now()$$, '42501', null, 'an admin cannot set applied_at (column grant)');
select throws_ok($$update public.email_templates set apply_error = null where name = 'welcome'$$, '42501', null, 'an admin cannot set apply_error');
select throws_ok($$update public.email_templates set name = 'approval' where name = 'welcome'$$, '42501', null, 'an admin cannot rename templates');
select throws_ok($$update public.email_templates set updated_by = gen_random_uuid()$$, '42501', null, 'an admin cannot forge updated_by');
select throws_ok($$update public.email_settings set id = false$$, '42501', null, 'an admin cannot change the settings key');
select throws_ok($$insert into public.email_templates (name, subject, html_body, text_body) values ('approval', 's', 'h', 't')$$,
  '42501', null, 'an admin cannot insert templates');
select throws_ok($$delete from public.email_templates where name = 'welcome'$$, '42501', null, 'an admin cannot delete templates');
select throws_ok($$update public.email_settings set from_email = 'not an email'$$, '23514', null, 'settings from_email must be an address');
select throws_ok($$update public.email_templates set subject = '' where name = 'welcome'$$, '23514', null, 'a template subject cannot be empty');
select tests.as_postgres();
select results_eq($$select applied_at, apply_error, updated_by from public.email_settings$$,
  format('values (null::timestamptz, null::text, %L::uuid)', tests.id('admin')),
  'settings edit cleared applied_at/apply_error and stamped the admin');
select results_eq($$select applied_at, apply_error, updated_by, updated_at from public.email_templates where name = 'welcome'$$,
  format('values (null::timestamptz, null::text, %L::uuid, now())', tests.id('admin')),
  'template edit cleared applied_at/apply_error and stamped the admin');

select tests.as_user('super');
select is(tests.affected($$update public.email_templates set enabled = false where name = 'welcome'$$), 1, 'a super_admin edits templates');

-- The sidecar (service_role) writes back whether it applied the change.
select tests.as_service();
select is(tests.affected($$update public.email_templates set applied_at = now(), apply_error = null where name = 'welcome'$$),
  1, 'service_role records applied_at');
select isnt((select applied_at from public.email_templates where name = 'welcome'), null, 'applied_at kept for the service');
select is(tests.affected($$update public.email_settings set apply_error = 'template: bad action'$$), 1, 'service_role records apply_error');
select is((select apply_error from public.email_settings), 'template: bad action', 'apply_error kept for the service');
select throws_ok($$insert into public.email_settings (id, from_email, portal_url) values (false, 'a@example.com', 'https://x.example.com')$$,
  '23514', null, 'there is only one settings row');

select * from finish();
rollback;
