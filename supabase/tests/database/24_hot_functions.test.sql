-- The functions every request calls are ones Postgres can keep a plan for
-- (migration 20261202400000). A SQL-language function with a SET clause or SECURITY
-- DEFINER is never inlined, and Postgres 15 plans its query again in every
-- statement that calls it; PL/pgSQL keeps its plans for the connection. Only the
-- media guard's full rule, which runs once its fast probe has found something, may
-- stay such SQL functions. The computed relationships in public, which need a fixed
-- search_path, are PL/pgSQL for the same reason (migration 20261203180000).
begin;
\ir _helpers.psql
select plan(4);

select is(
  (select coalesce(array_agg(p.proname::text order by p.proname), '{}')
     from pg_proc p join pg_language l on l.oid = p.prolang
    where p.pronamespace in ('private'::regnamespace, 'public'::regnamespace) and l.lanname = 'sql'
      and (p.prosecdef or p.proconfig is not null)
      and p.proname not in ('media_pct_decode', 'media_magic_type', 'media_path_key', 'media_check_jsonb')),
  '{}'::text[],
  'no private or public SQL function that cannot be inlined sits on the request path');

select is(
  (select array_agg(l.lanname::text order by p.oid::regprocedure::text)
     from pg_proc p join pg_language l on l.oid = p.prolang
    where p.oid in ('private.is_admin()'::regprocedure, 'private.is_super_admin()'::regprocedure,
                    'private.admin_role()'::regprocedure, 'private.jwt_account_email()'::regprocedure)),
  array['plpgsql', 'plpgsql', 'plpgsql', 'plpgsql'],
  'the policies'' and the state machine''s helpers are PL/pgSQL');

-- The transition table is one table, and the error detail reads it.
select is((select count(*)::int from pg_proc where oid::regprocedure::text like 'private.talent_transition_actor(%'
             or oid::regprocedure::text like 'private.talent_allowed_next(%'), 2,
  'talent_transition_actor and talent_allowed_next have one overload each (talent_status)');
select is(private.talent_allowed_next('submitted'), 'approved, rejected',
  'the allowed next statuses come from the transition table, in name order');

select * from finish();
rollback;
