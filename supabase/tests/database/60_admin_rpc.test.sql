-- admin_bulk_update and admin_analytics: admins only, clear errors for bad input,
-- one row change (one row_version bump) per talent, all or nothing.
begin;
\ir _helpers.psql
select plan(27);

select tests.new_user('talent');
select tests.new_user('admin', 'admin');
select tests.new_user('t' || i) from generate_series(1, 4) i;
select tests.new_profile('t1', 'submitted');
select tests.new_profile('t2', 'submitted');
select tests.new_profile('t3', 'submitted');
select tests.new_profile('t4', 'draft');
select tests.new_profile('talent', 'draft');

create function tests.ids_of(variadic labels text[]) returns uuid[] language sql stable as $$
  select array_agg(tests.id(l || '.profile') order by o) from unnest(labels) with ordinality u (l, o)
$$;
create function tests.versions(variadic labels text[]) returns integer[] language sql stable as $$
  select array_agg(p.row_version order by o) from unnest(labels) with ordinality u (l, o)
    join public.talent_profiles p on p.id = tests.id(l || '.profile')
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

select tests.as_anon();
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1'), 'approve'),
  '42501', null, 'anon cannot call admin_bulk_update');
select throws_ok('select public.admin_analytics()', '42501', null, 'anon cannot call admin_analytics');

select tests.as_user('talent');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1'), 'approve'),
  '42501', 'admin_bulk_update is for admins only', 'a talent cannot bulk update');
select throws_ok('select public.admin_analytics()', '42501', 'admin_analytics is for admins only', 'a talent cannot read analytics');

select tests.as_user('admin');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1'), 'promote'),
  '22P02', 'invalid input value for enum admin_bulk_action: "promote"', 'an unknown action is refused by name (the argument is an enum)');
select throws_ok(format('select public.admin_bulk_update(%L, null)', tests.ids_of('t1')),
  '22023', 'unknown bulk action null', 'a null action is refused');
select throws_ok($$select public.admin_bulk_update('{}', 'approve')$$, '22023', 'ids must name at least one talent profile', 'empty ids are refused');
select throws_ok($$select public.admin_bulk_update(null, 'approve')$$, '22023', 'ids must name at least one talent profile', 'null ids are refused');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', array_append(tests.ids_of('t1'), gen_random_uuid()), 'approve'),
  '22023', 'some ids do not name a talent profile', 'an unknown id is refused');
select throws_ok(format('select public.admin_bulk_update(array(select gen_random_uuid() from generate_series(1, 1001)), %L)', 'approve'),
  '22023', 'at most 1000 profiles per bulk update, got 1001', 'more than 1000 ids are refused');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1', 't2'), 'reject'),
  '23514', 'rejecting a profile needs a rejection_reason', 'bulk reject without a reason is refused');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1', 't4'), 'approve'),
  '23514', 'invalid status transition draft -> approved', 'one refused transition refuses the whole call, naming it');
select throws_ok(format('select public.admin_bulk_update(%L, %L)', tests.ids_of('t1', 'talent'), 'approve'),
  '23514', 'invalid status transition draft -> approved', 'bulk cannot skip the machine');
select is(tests.versions('t1', 't2', 't3'), array[2, 2, 2], 'refused calls changed nothing');

select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t1', 't2', 't1'), 'approve')), 2,
  'bulk approve returns each changed profile once (duplicate ids collapse)');
select is(tests.versions('t1', 't2', 't3'), array[3, 3, 2], 'one row_version bump per talent');
select tests.as_postgres();
select results_eq(format('select status, updated_by from public.talent_profiles where id = any (%L) order by id', tests.ids_of('t1', 't2')),
  format('values (%L::public.talent_status, %L::uuid), (%L, %L)', 'approved', tests.id('admin'), 'approved', tests.id('admin')),
  'approved and stamped with the admin');
select tests.as_user('admin');
select is((select status from public.admin_bulk_update(tests.ids_of('t3'), 'reject', 'Audio quality too low.')), 'rejected', 'bulk reject with a reason');
select is((select rejection_reason from public.talent_profiles where id = tests.id('t3.profile')), 'Audio quality too low.', 'reason stored');
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t1', 't2'), 'activate')), 2, 'bulk activate');
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t1'), 'deactivate')), 1, 'bulk deactivate');
select is((select count(*)::int from public.admin_bulk_update(tests.ids_of('t3'), 'reopen')), 1, 'bulk reopen');
select is(tests.versions('t1', 't2', 't3'), array[5, 4, 4], 'each call bumped each talent once');

select ok((select a.by_status is not null and a.submissions_per_day is not null and (a.review_hours).reviewed is not null
             from public.admin_analytics() a), 'analytics has its three figures');
select cmp_ok((select s.count from public.admin_analytics() a, unnest(a.by_status) s where s.status = 'active')::int, '>=', 1,
  'analytics counts by status through RLS');
select is((select jsonb_build_array(e ->> 'status', jsonb_typeof(e -> 'count'))
             from public.admin_analytics() a, jsonb_array_elements(to_jsonb(a) -> 'by_status') with ordinality x(e, n) where n = 1),
  '["draft", "number"]'::jsonb,
  'by_status as PostgREST serialises it: a list of {status, count} in lifecycle order');
select throws_ok($$select public.admin_analytics(now(), now() - interval '1 day')$$, '22023', 'since must not be after until', 'a reversed range is refused');

select * from finish();
rollback;
