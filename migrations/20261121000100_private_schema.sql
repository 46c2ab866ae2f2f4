-- A schema PostgREST does not expose, for security-definer helpers and trigger
-- functions. API roles may use it only to call the two helpers the policies need.
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

create extension if not exists pg_trgm with schema extensions;

-- personality_traits is an object of trait name -> score between 0 and 100.
create function private.valid_personality_traits(traits jsonb) returns boolean
language sql immutable
set search_path = ''
as $$
  select jsonb_typeof(traits) = 'object'
     and (select count(*) from jsonb_object_keys(traits)) <= 50
     and not exists (
       select 1 from jsonb_each(traits) e
       where length(e.key) > 100
          or jsonb_typeof(e.value) <> 'number'
          or (e.value)::numeric < 0
          or (e.value)::numeric > 100
     )
$$;
