-- Catalogue checks: rules that must hold for every table, function, view and policy,
-- including ones added later.
begin;
select plan(15);

select is_empty($$
  select c.oid::regclass::text from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity
$$, 'RLS is enabled on every table in public');

select is_empty($$
  select c.oid::regclass::text || ' ' || r.role || ' ' || p.priv
    from pg_class c
   cross join unnest(array['anon', 'authenticated']) r (role)
   cross join unnest(array['TRUNCATE', 'REFERENCES', 'TRIGGER']) p (priv)
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
     and has_table_privilege(r.role, c.oid, p.priv)
$$, 'no API role has TRUNCATE (which ignores RLS), REFERENCES or TRIGGER on public tables');

select is_empty($$
  select c.oid::regclass::text from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
     and has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
$$, 'anon has no privilege on any public table or view');

select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace::regnamespace::text in ('public', 'graphql_public')
     and p.prosecdef
     and (has_function_privilege('anon', p.oid, 'EXECUTE') or has_function_privilege('authenticated', p.oid, 'EXECUTE'))
$$, 'no SECURITY DEFINER function in an exposed schema is executable by anon or authenticated');

select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.prosecdef
     and p.pronamespace::regnamespace::text in ('public', 'private', 'sidecar')
     and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')
$$, 'every SECURITY DEFINER function of ours pins its search_path');

-- Every function, not only the security definer ones: Supabase's advisors warn on any
-- without (lint 0011 function_search_path_mutable). Extension members are not ours.
select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace::regnamespace::text in ('public', 'private', 'sidecar')
     and not exists (select 1 from pg_depend d
                      where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
     and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')
$$, 'every function of ours pins its search_path');

select is_empty($$
  select c.oid::regclass::text from pg_class c
   where c.relnamespace::regnamespace::text in ('public', 'graphql_public')
     and c.relkind in ('v', 'm')
     and (has_table_privilege('anon', c.oid, 'SELECT') or has_table_privilege('authenticated', c.oid, 'SELECT'))
     and (c.relkind = 'm' or not coalesce(c.reloptions, '{}') && array['security_invoker=true', 'security_invoker=on', 'security_invoker=1'])
$$, 'no view readable by API roles bypasses RLS (views are security_invoker, no readable materialized views)');

select is_empty($$
  select n.nspname from pg_namespace n
   where n.nspname in ('private', 'sidecar', 'supabase_migrations')
     and (has_schema_privilege('anon', n.oid, 'USAGE') or (n.nspname <> 'private' and has_schema_privilege('authenticated', n.oid, 'USAGE')))
$$, 'internal schemas are not usable by anon (nor, except private helpers, by authenticated)');

select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace = 'private'::regnamespace and has_function_privilege('anon', p.oid, 'EXECUTE')
     and p.prosecdef
$$, 'anon cannot execute the private security-definer helpers');

-- Policies: (select auth.uid()) and (select private.*()) forms, so each is an initPlan
-- evaluated once per statement; never user_metadata; never granted to anon or public.
select is_empty($$
  select schemaname || '.' || tablename || '.' || policyname from pg_policies
   where schemaname in ('public', 'storage')
     and regexp_replace(coalesce(qual, '') || ' ' || coalesce(with_check, ''),
                        'SELECT (auth\.uid\(\)|private\.[a-z_]+\(\)) AS [a-z_]+', '', 'g')
         ~ '(auth\.(uid|jwt|role|email)|private\.[a-z_]+)\(\)'
$$, 'every policy wraps auth.uid()/private helpers in (select ...)');

select is_empty($$
  select schemaname || '.' || tablename || '.' || policyname from pg_policies
   where coalesce(qual, '') || coalesce(with_check, '') ~* '(user_metadata|raw_user_meta_data|raw_app_meta_data)'
$$, 'no policy consults user metadata');

select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace::regnamespace::text in ('public', 'private')
     and p.prosrc ~* '(user_metadata|raw_user_meta_data)'
$$, 'no function of ours consults user_metadata');

select is_empty($$
  select schemaname || '.' || tablename || '.' || policyname from pg_policies
   where (schemaname = 'public' or policyname like 'talent\_media\_%')
     and roles && array['public', 'anon']::name[]
$$, 'no policy applies to anon or public');

select is_empty($$
  select c.oid::regclass::text || '.' || a.attname
    from (values ('public.talent_profiles', 'user_id'), ('public.onboarding_progress', 'user_id'),
                 ('public.email_notifications', 'talent_profile_id'), ('public.admin_users', 'id')) t (tbl, col)
    join pg_class c on c.oid = t.tbl::regclass
    join pg_attribute a on a.attrelid = c.oid and a.attname = t.col
   where not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indkey[0] = a.attnum)
$$, 'the columns policies filter on are indexed');

select is_empty($$
  select c.oid::regclass::text from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
     and not exists (select 1 from pg_policies p where p.schemaname = 'public' and p.tablename = c.relname)
$$, 'every public table has at least one policy (none is silently API-dead by accident)');

select * from finish();
rollback;
