-- The functions every PostgREST write calls, in PL/pgSQL so that they are planned
-- once per connection instead of once per request.
--
-- Postgres inlines a SQL-language function into the calling query only when it has
-- no SET clause and is not SECURITY DEFINER. These have both (an empty search_path
-- is pinned on every function here; the admin checks must read admin_users, which
-- the API roles cannot), so each is run as a separate SQL function, and on Postgres
-- 15 (and every version before 18) such a function's query is parsed and planned
-- again for every statement or transaction that calls it. PL/pgSQL keeps its plans
-- for the life of the connection, and PostgREST's connections are long-lived.
--
-- Measured with pgbench, one admin status change per transaction as PostgREST
-- sends it (README "Write-path triggers"): the state machine called
-- talent_transition_actor (two SQL functions, the enum overload calling the text
-- one) and is_admin(), and was the largest cost of the request after the commit.
-- The bodies say what they said before (the allowed-next list now reads the type's
-- values rather than naming them again); only the language changes. Grants and
-- owners are kept by CREATE OR REPLACE.

-- The transition table lives in the talent_status overload now, the one the state
-- machine calls. The text overloads of this function and of talent_allowed_next,
-- from before the status was a type, have no caller left and are dropped: one table,
-- one way in.
create or replace function private.talent_transition_actor(from_status public.talent_status, to_status public.talent_status)
returns text
language plpgsql immutable
set search_path = ''
as $$
begin
  return case from_status::text || ' -> ' || to_status::text
    when 'draft -> submitted' then 'talent'
    when 'submitted -> approved' then 'admin'
    when 'submitted -> rejected' then 'admin'
    when 'approved -> active' then 'admin'
    when 'active -> inactive' then 'admin'
    when 'inactive -> active' then 'admin'
    when 'rejected -> draft' then 'admin'
  end;
end
$$;

drop function private.talent_transition_actor(text, text);

-- The statuses a profile may move to next (the state machine's error detail), read
-- from the talent_status type and the table above instead of a list of its own.
-- STABLE, not IMMUTABLE: the type may gain values.
create or replace function private.talent_allowed_next(from_status public.talent_status) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  return coalesce((select string_agg(t::text, ', ' order by t::text)
                     from unnest(enum_range(null::public.talent_status)) t
                    where private.talent_transition_actor(from_status, t) is not null), 'none');
end
$$;

drop function private.talent_allowed_next(text);

create or replace function private.is_admin() returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return exists (select 1 from public.admin_users a where a.id = auth.uid());
end
$$;

create or replace function private.is_super_admin() returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return exists (select 1 from public.admin_users a where a.id = auth.uid() and a.role = 'super_admin');
end
$$;

create or replace function private.admin_role() returns text
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return (select a.role from public.admin_users a where a.id = auth.uid());
end
$$;

create or replace function private.jwt_account_email() returns text
language plpgsql stable
set search_path = ''
as $$
begin
  return case when coalesce((auth.jwt() ->> 'is_anonymous')::boolean, false) then null
              else nullif(btrim(auth.jwt() ->> 'email'), '') end;
end
$$;
