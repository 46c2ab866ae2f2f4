-- admin_bulk_update as the specification's BulkOperation (issue 15, item 5): delete
-- for super admins alone (42501 for an admin), all or nothing; the reason is set as
-- talent.action_reason for the transaction before any row changes, for every action.
begin;
\ir _helpers.psql
select plan(32);

select tests.new_user('talent');
select tests.new_user('other');
select tests.new_user('admin', 'admin');
select tests.new_user('super', 'super_admin');
select tests.new_user('t' || i) from generate_series(1, 7) i;
select tests.new_profile('t1', 'submitted');
select tests.new_profile('t2', 'submitted');
select tests.new_profile('t3', 'approved');
select tests.new_profile('t4', 'rejected');
select tests.new_profile('t5', 'active');
select tests.new_profile('t6', 'draft');
select tests.new_profile('t7', 'submitted');
select tests.new_profile('talent', 'draft');

create function tests.ids_of(variadic labels text[]) returns uuid[] language sql stable as $$
  select array_agg(tests.id(l || '.profile') order by o) from unnest(labels) with ordinality u (l, o)
$$;
create function tests.status_of(label text) returns text language sql stable as $$
  select status from public.talent_profiles where id = tests.id(label || '.profile')
$$;

-- What a change-record trigger sees: talent.action_reason at the moment each row changes.
create table tests.seen_reasons (op text, talent_profile_id uuid, reason text);
grant insert, select, delete on tests.seen_reasons to authenticated, service_role;
create function tests.capture_reason() returns trigger language plpgsql as $$
begin
  insert into tests.seen_reasons values (tg_op, coalesce(new.id, old.id), current_setting('talent.action_reason', true));
  return coalesce(new, old);
end
$$;
create trigger zz_capture_reason before update or delete on public.talent_profiles
  for each row execute function tests.capture_reason();
create function tests.reasons(op text) returns text[] language sql stable as $$
  select array_agg(coalesce(reason, '<unset>') order by reason) from tests.seen_reasons where seen_reasons.op = $1
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- anon, talent, another talent: refused.
select tests.as_anon();
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1'), 'delete'),
  '42501', null, 'anon cannot bulk delete');
select tests.as_user('talent');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('talent'), 'delete'),
  '42501', 'admin_bulk_update is for admins only', 'a talent cannot bulk delete, not even their own profile');
select tests.as_user('other');
select throws_ok(format('select public.admin_bulk_update(%L, %L, %L)', tests.ids_of('t1'), 'approve', 'why not'),
  '42501', 'admin_bulk_update is for admins only', 'another talent cannot bulk approve');

-- An admin: delete is refused before anything changes.
select tests.as_user('admin');
select throws_ok(format('select public.admin_bulk_update(%L, %L, %L)', tests.ids_of('t3', 't4'), 'delete', 'cleanup'),
  '42501', 'only a super admin may delete talent profiles', 'an admin cannot bulk delete');
select tests.as_postgres();
select is((select count(*)::int from public.talent_profiles where id = any (tests.ids_of('t3', 't4'))), 2, 'nothing was deleted');
select tests.as_user('admin');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1'), 'archive'),
  '22P02', 'invalid input value for enum admin_bulk_action: "archive"', 'an unknown action is refused by name (the enum names it)');
select throws_ok(format('select public.admin_bulk_update(%L, %L, %L)', tests.ids_of('t1'), 'approve', repeat('x', 2001)),
  '22023', 'reason is too long (2001 characters, at most 2000)', 'an overlong reason is refused');

-- The reason reaches every action, before its rows change.
select is((select array_agg(status::text) from public.admin_bulk_update(tests.ids_of('t1', 't2'), 'approve', 'Strong samples.')),
  array['approved', 'approved'], 'an admin bulk approves with a reason');
select is(current_setting('talent.action_reason', true), 'Strong samples.', 'the reason is set for the transaction');
select is(tests.reasons('UPDATE'), array['Strong samples.', 'Strong samples.'], 'each row change saw the approve reason');
delete from tests.seen_reasons;
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t1'), 'activate', 'Contract signed.')), 1, 'bulk activate with a reason');
select is(tests.reasons('UPDATE'), array['Contract signed.'], 'the activate reason was set');
delete from tests.seen_reasons;
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t5'), 'deactivate', 'On leave.')), 1, 'bulk deactivate with a reason');
select is(tests.reasons('UPDATE'), array['On leave.'], 'the deactivate reason was set');
delete from tests.seen_reasons;
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t4'), 'reopen', 'New video sent by mail.')), 1, 'bulk reopen with a reason');
select is(tests.reasons('UPDATE'), array['New video sent by mail.'], 'the reopen reason was set');
delete from tests.seen_reasons;
select is((select rejection_reason from public.admin_bulk_update(tests.ids_of('t7'), 'reject', 'Audio too quiet.')),
  'Audio too quiet.', 'bulk reject stores its reason as rejection_reason');
select is(tests.reasons('UPDATE'), array['Audio too quiet.'], 'the reject reason was set');
delete from tests.seen_reasons;
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t1'), 'deactivate')), 1, 'an action without a reason');
select is(tests.reasons('UPDATE'), array[''], 'no reason is set as empty, never a previous call''s reason');
delete from tests.seen_reasons;

-- A super admin deletes, all or nothing.
select tests.as_user('super');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', array_append(tests.ids_of('t3'), gen_random_uuid()), 'delete'),
  '22023', 'some ids do not name a talent profile', 'a delete naming an unknown id is refused whole');
select is(tests.visible('public.talent_profiles', format('id = %L', tests.id('t3.profile'))), 1, 'and deleted nothing');
select is((select array_agg(id order by id) from public.admin_bulk_update(tests.ids_of('t3', 't6', 't3'), 'delete', 'Duplicate accounts.')),
  (select array_agg(i order by i) from unnest(tests.ids_of('t3', 't6')) i),
  'a super admin bulk deletes, each profile once, returning the deleted rows');
select is(tests.visible('public.talent_profiles', format('id = any (%L)', tests.ids_of('t3', 't6'))), 0, 'the profiles are gone');
select is(tests.reasons('DELETE'), array['Duplicate accounts.', 'Duplicate accounts.'], 'each deletion saw the reason');
select tests.as_postgres();
select results_eq(format($q$select actor_id, actor_role, reason from sidecar.changes
                            where op = 'DELETE' and row_key in (select 'talent:' || i from unnest(%L::uuid[]) i)$q$, tests.ids_of('t3', 't6')),
  format($q$values (%L::uuid, 'super_admin', 'Duplicate accounts.'), (%L::uuid, 'super_admin', 'Duplicate accounts.')$q$,
         tests.id('super'), tests.id('super')),
  'the change records name the deleting super admin and the reason, for the sidecar');
select tests.as_user('super');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t5', 't1'), 'approve'),
  '23514', 'invalid status transition inactive -> approved', 'a super admin still follows the state machine');

-- The service role may call it too (ops); delete included.
select tests.as_service();
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t5'), 'activate', 'Back from leave.')), 1, 'the service bulk activates');
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t5'), 'delete', 'GDPR erasure request.')), 1, 'the service bulk deletes');
select tests.as_postgres();
select is((select count(*)::int from public.talent_profiles where id = tests.id('t5.profile')), 0, 'deleted by the service');
select is(tests.status_of('t1'), 'inactive', 't1 went approved -> active -> inactive');
select is(tests.status_of('t4'), 'draft', 't4 was reopened');

select * from finish();
rollback;
