-- admin_actions and email_notifications point at their talent as before, and
-- deleting a talent still sets those references to null (the audit log and the email
-- history outlive the talent), but without foreign keys.
--
-- Why: only the sidecar writes these tables (API roles have no insert grant), in
-- batches of hundreds of rows, and its statements already look each talent up, one
-- primary-key probe per row, to write null for a talent deleted since its change. A
-- foreign key repeated that lookup for every inserted row with a query of its own
-- (an executor started and torn down per row): over a backlog drain, about a sixth
-- of Postgres's CPU, and a statement-level check trigger cost nearly as much.
--
-- What keeps the rule:
-- - the sidecar's lookup takes the lock a foreign key takes (FOR KEY SHARE), so a
--   talent it writes about cannot be deleted before its transaction ends, and one
--   deleted first is written as null;
-- - deleting talents sets the references to null in the deleting statement, below
--   (a cascade from auth.users fires it too);
-- - PostgREST cannot embed through a foreign key that is not there, so the
--   relationships are declared as computed relationships (the four functions at the
--   end).
-- What is lost: a row written by hand (an operator as postgres or service_role) is not
-- checked against talent_profiles.

alter table public.admin_actions drop constraint if exists admin_actions_talent_profile_id_fkey;
alter table public.email_notifications drop constraint if exists email_notifications_talent_profile_id_fkey;

-- Deleting talents sets the references to them to null, in the deleting statement,
-- as on delete set null did. (A cascade from auth.users fires it too.)
create function private.talent_refs_forget_deleted() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  update public.admin_actions a set talent_profile_id = null
    from old_rows o where a.talent_profile_id = o.id;
  update public.email_notifications e set talent_profile_id = null
    from old_rows o where e.talent_profile_id = o.id;
  return null;
end
$$;

revoke all on function private.talent_refs_forget_deleted() from public;

create trigger talent_profiles_forget_refs
  after delete on public.talent_profiles
  referencing old table as old_rows
  for each statement execute function private.talent_refs_forget_deleted();

-- PostgREST computed relationships, in place of the ones it read from the foreign
-- keys: select=*,talent_profiles(name) on admin_actions or email_notifications, and
-- select=*,admin_actions(*),email_notifications(*) on talent_profiles. Security
-- invoker and inlinable SQL, so the embedded rows pass the caller's RLS as before.
create function public.talent_profiles(public.admin_actions) returns setof public.talent_profiles
rows 1 language sql stable
as $$ select * from public.talent_profiles p where p.id = $1.talent_profile_id $$;
create function public.talent_profiles(public.email_notifications) returns setof public.talent_profiles
rows 1 language sql stable
as $$ select * from public.talent_profiles p where p.id = $1.talent_profile_id $$;
create function public.admin_actions(public.talent_profiles) returns setof public.admin_actions
language sql stable
as $$ select * from public.admin_actions a where a.talent_profile_id = $1.id $$;
create function public.email_notifications(public.talent_profiles) returns setof public.email_notifications
language sql stable
as $$ select * from public.email_notifications e where e.talent_profile_id = $1.id $$;
revoke all on function public.talent_profiles(public.admin_actions), public.talent_profiles(public.email_notifications),
  public.admin_actions(public.talent_profiles), public.email_notifications(public.talent_profiles) from public, anon;
grant execute on function public.talent_profiles(public.admin_actions), public.talent_profiles(public.email_notifications),
  public.admin_actions(public.talent_profiles), public.email_notifications(public.talent_profiles) to authenticated, service_role;
