-- The durable change record (migration 20261202000100): what the sidecar must act
-- on, written by trigger in the changing transaction, out of every client's reach.
begin;
\ir _helpers.psql
select plan(49);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_profile('talent', 'draft');
select tests.new_profile('other', 'submitted');
delete from sidecar.changes;  -- the fixtures' own records

-- Out of reach: no API role can read, write or forge a record, or call the helpers.
select tests.as_anon();
select throws_ok('select * from sidecar.changes', '42501', null, 'anon cannot read the change records');
select throws_ok($$insert into sidecar.changes (row_key, table_name, op, actor_role) values ('k', 't', 'UPDATE', 'service')$$,
  '42501', null, 'anon cannot write one');
select tests.as_user('talent');
select throws_ok('select * from sidecar.changes', '42501', null, 'a talent cannot read them');
select throws_ok($$insert into sidecar.changes (row_key, table_name, op, actor_role) values ('k', 't', 'UPDATE', 'admin')$$,
  '42501', null, 'a talent cannot forge one');
select throws_ok('update sidecar.changes set processed_at = now()', '42501', null, 'a talent cannot mark one processed');
select throws_ok('delete from sidecar.changes', '42501', null, 'a talent cannot delete one');
select throws_ok($$select private.change_actor_role(null, null)$$, '42501', null, 'a talent cannot call the actor helper');
select throws_ok(format($$select private.record_talent_update(%L, '{}', '{"status": "approved"}', 'admin', null)$$, tests.id('talent.profile')),
  '42501', 'change records are written by the talent_profiles trigger only',
  'a talent can call the state machine''s record helper only from inside the trigger');
select tests.as_user('admin');
select throws_ok('select * from sidecar.changes', '42501', null, 'an admin cannot read them');
select throws_ok($$insert into sidecar.changes (row_key, table_name, op, actor_role) values ('k', 't', 'UPDATE', 'admin')$$,
  '42501', null, 'an admin cannot forge one');
select tests.as_user('super');
select throws_ok('select * from sidecar.changes', '42501', null, 'a super_admin cannot read them');
select throws_ok('delete from sidecar.changes', '42501', null, 'a super_admin cannot delete them');
select throws_ok('select * from sidecar.replication_slots', '42501', null, 'nor the slots the sidecar remembers');
select throws_ok('select * from sidecar.storage_deletions', '42501', null, 'nor the media clean-ups of deleted talents');
select tests.as_user('admin');
select throws_ok($$update sidecar.storage_deletions set status = 'queued'$$, '42501', null, 'an admin cannot re-queue a clean-up through the API');
select tests.as_anon();
select throws_ok('select * from sidecar.storage_deletions', '42501', null, 'anon cannot see the clean-ups');
select tests.as_service();
select throws_ok($$insert into sidecar.changes (row_key, table_name, op, actor_role) values ('k', 't', 'UPDATE', 'service')$$,
  '42501', null, 'not even service_role writes a record: only the triggers do');
select throws_ok($$update sidecar.changes set actor_role = 'admin'$$, '42501', null,
  'service_role marks records processed and changes nothing else');
select lives_ok('update sidecar.changes set processed_at = now() where false', 'service_role (the sidecar) marks records processed');
select tests.as_postgres();
select ok(p.prosecdef and p.proconfig = array['search_path=""'], p.proname || ' is security definer with an empty search_path')
  from pg_proc p where p.oid in ('private.record_talent_change()'::regprocedure, 'private.record_email_config_change()'::regprocedure,
                                 'private.record_talent_update(uuid, jsonb, jsonb, text, uuid)'::regprocedure)
  order by p.proname;
select ok(not exists (select 1 from information_schema.role_table_grants
                       where table_schema = 'sidecar' and grantee in ('anon', 'authenticated', 'public')),
  'no API role holds a privilege on the sidecar schema''s tables');

-- What is recorded, and by whom.
select tests.as_user('talent');
update public.talent_profiles set name = 'Autosaved', location = 'Elsewhere' where id = tests.id('talent.profile');
select tests.as_postgres();
select is((select count(*)::int from sidecar.changes), 0, 'a draft autosave is not recorded');

select tests.as_user('talent');
update public.talent_profiles set status = 'submitted' where id = tests.id('talent.profile');
select tests.as_postgres();
select results_eq(format($$select row_key, table_name, op, actor_id, actor_role, old_row->>'status', new_row->>'status', processed_at
                             from sidecar.changes$$),
  format($$values ('talent:' || %L, 'talent_profiles', 'UPDATE', %L::uuid, 'talent', 'draft', 'submitted', null::timestamptz)$$,
         tests.id('talent.profile'), tests.id('talent')),
  'a submit is recorded with the talent as actor, pending');
select ok((select new_row ? 'email' and new_row ? 'user_id' and not new_row ? 'freeform_text' from sidecar.changes),
  'the record keeps the snapshot the sidecar needs, not the answers');
select is((select lsn <= pg_current_wal_insert_lsn() from sidecar.changes), true, 'and where the WAL stood');

select tests.as_user('admin');
update public.talent_profiles set status = 'approved' where id = tests.id('talent.profile');
select tests.as_postgres();
select results_eq($$select actor_id, actor_role, new_row->>'status' from sidecar.changes order by id desc limit 1$$,
  format($$values (%L::uuid, 'admin', 'approved')$$, tests.id('admin')), 'an admin''s approval names the admin');

select tests.as_user('admin');
update public.talent_profiles set admin_notes = 'Great range.' where id = tests.id('talent.profile');
select tests.as_postgres();
select results_eq($$select actor_role, old_row->>'admin_notes', new_row->>'admin_notes' from sidecar.changes order by id desc limit 1$$,
  $$values ('admin', null, 'Great range.')$$, 'an edit of the admin notes is recorded with old and new values');

-- A reason the transaction gives (admin_bulk_update sets it) goes into the record.
select tests.as_user('super');
select set_config('talent.action_reason', 'Strong audition reel', true);
update public.talent_profiles set status = 'approved' where id = tests.id('other.profile');
select set_config('talent.action_reason', '', true);
select tests.as_postgres();
select results_eq($$select actor_role, reason from sidecar.changes order by id desc limit 1$$,
  $$values ('super_admin', 'Strong audition reel')$$, 'a super admin''s approval, with the reason the transaction gave');

-- Ops writing directly are the service, without an end-user actor.
update public.talent_profiles set status = 'active' where id = tests.id('other.profile');
select results_eq($$select actor_id, actor_role from sidecar.changes order by id desc limit 1$$,
  $$values (null::uuid, 'service')$$, 'a change made outside the API is the service''s');

-- A change that fails leaves no record.
select tests.as_user('admin');
select throws_ok(format($$update public.talent_profiles set status = 'draft' where id = %L$$, tests.id('other.profile')), '23514');
select tests.as_postgres();
select is((select count(*)::int from sidecar.changes where new_row->>'status' = 'draft'), 0, 'a refused transition records nothing');

-- The record is written before the row (by the BEFORE trigger): a row the media guard,
-- which runs after it, refuses takes its record with it.
select tests.as_user('admin');
select throws_ok(format($$update public.talent_profiles set admin_notes = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' where id = %L$$,
  tests.id('other.profile')), '23514');
select tests.as_postgres();
select is((select count(*)::int from sidecar.changes where new_row->>'admin_notes' like 'data:%'), 0,
  'a change the media guard refuses leaves no record');

-- The snapshot holds the columns the state machine derived, not what the client sent.
select tests.new_user('late');
select tests.new_profile('late', 'submitted');
select tests.as_user('admin');
update public.talent_profiles set status = 'approved', approved_at = '2001-01-01' where id = tests.id('late.profile');
select tests.as_postgres();
select ok((select (new_row->>'approved_at')::timestamptz > now() - interval '1 hour' and old_row->>'approved_at' is null
             from sidecar.changes order by id desc limit 1),
  'the record''s approved_at is the state machine''s, not the client''s');

-- Changes that are not recorded: an admin refused, an autosave by the talent.
select tests.as_user('other');
select is(tests.affected(format($$update public.talent_profiles set status = 'approved' where id = %L$$, tests.id('late.profile'))), 0,
  'another talent''s profile is out of a talent''s reach');
select tests.as_postgres();
select is((select count(*)::int from sidecar.changes where row_key = 'talent:' || tests.id('late.profile')), 2,
  'a change someone may not make leaves no record (the fixture''s submit and the approval only)');


-- The email configuration: an admin's edit is recorded; the sidecar's verdict is not.
delete from sidecar.changes;
select tests.as_user('admin');
update public.email_settings set from_name = 'Acme Casting';
update public.email_templates set subject = 'Welcome aboard' where name = 'welcome';
select tests.as_postgres();
select results_eq($$select row_key, table_name, actor_role, new_row->>'from_name' from sidecar.changes order by id$$,
  $$values ('email_config', 'email_settings', 'admin', 'Acme Casting'), ('email_config', 'email_templates', 'admin', null)$$,
  'settings and template edits are recorded under one key, in order');
select tests.as_service();
update public.email_settings set applied_at = now(), apply_error = null;
update public.email_templates set applied_at = now() where name = 'welcome';
select tests.as_postgres();
select is((select count(*)::int from sidecar.changes), 2, 'the sidecar''s verdict (applied_at, apply_error) is not a change to act on');

-- Processed records are claimable once: the claim is an update the sidecar's role may make.
select tests.as_service();
select is(tests.affected('update sidecar.changes set processed_at = now() where processed_at is null'), 2,
  'the sidecar claims the pending records');
select is(tests.affected('update sidecar.changes set processed_at = now() where processed_at is null'), 0,
  'and finds none the second time');
select is(tests.affected($$delete from sidecar.changes where processed_at is not null$$), 2, 'and prunes processed records');
select tests.as_postgres();

-- Indexes for the claim and the pruning.
select has_index('sidecar', 'changes', 'changes_pending_idx', array['row_key', 'id'], 'pending records by key and id');
select has_index('sidecar', 'changes', 'changes_created_at_brin', 'pruning by age');
select hasnt_table('sidecar', 'talent_deletions', 'the deletion tombstones are gone: the record names who deleted');
select is((select array_agg(tgname::text order by tgname) from pg_trigger where tgrelid = 'public.talent_profiles'::regclass
            and (tgname like '%record%' or tgfoid = 'private.record_talent_change()'::regprocedure)),
  array['talent_profiles_record_delete'],
  'talent_profiles records a delete by trigger (its updates are recorded by the state machine since migration 20261203200000)');
select ok(pg_get_functiondef('private.talent_profiles_before_write()'::regprocedure) ~ 'private\.record_talent_update',
  'the state machine writes the record of an update');
select is((select count(*)::int from pg_trigger where tgname in ('email_settings_record_change', 'email_templates_record_change')), 2,
  'and so does the email configuration');

select * from finish();
rollback;
