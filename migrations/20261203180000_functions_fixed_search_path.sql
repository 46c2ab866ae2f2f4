-- Every function of ours names its search_path, so no caller's search_path can change
-- what a name in its body means. Supabase's advisors (`supabase db advisors`, lint
-- 0011 function_search_path_mutable) reported the five functions below, the only ones
-- without it; a pgTAP check (00_catalogue) now fails on any new one.

-- Called from the change-record triggers, which already run with the empty
-- search_path; its body names every schema. The SET adds a configuration save and
-- restore per call: 50,000 calls in a loop took about 20 µs each with it and without.
alter function private.change_actor_role(uuid, uuid) set search_path = '';

-- The PostgREST computed relationships (migration 20261122000200). A SQL function with
-- a SET clause is never inlined, so they become PL/pgSQL, which keeps its plan for the
-- connection instead of planning the body again in every request: a profile with its
-- audit log embedded (supabase/examples/admin.ts, talentDetail) calls each once. Still
-- security invoker, so the embedded rows pass the caller's RLS. Embedding them into a
-- long list now costs a call per row instead of a join.
create or replace function public.talent_profiles(public.admin_actions) returns setof public.talent_profiles
rows 1 language plpgsql stable set search_path = ''
as $$ begin return query select * from public.talent_profiles p where p.id = $1.talent_profile_id; end $$;

create or replace function public.talent_profiles(public.email_notifications) returns setof public.talent_profiles
rows 1 language plpgsql stable set search_path = ''
as $$ begin return query select * from public.talent_profiles p where p.id = $1.talent_profile_id; end $$;

create or replace function public.admin_actions(public.talent_profiles) returns setof public.admin_actions
language plpgsql stable set search_path = ''
as $$ begin return query select * from public.admin_actions a where a.talent_profile_id = $1.id; end $$;

create or replace function public.email_notifications(public.talent_profiles) returns setof public.email_notifications
language plpgsql stable set search_path = ''
as $$ begin return query select * from public.email_notifications e where e.talent_profile_id = $1.id; end $$;
