-- talent_profiles: a talent sees and edits their own profile; admins see and review
-- all; only a super_admin deletes. Which columns and transitions each may change is
-- decided by the trigger private.talent_profiles_before_write.
create policy talent_profiles_select on public.talent_profiles
  for select to authenticated
  using (user_id = (select auth.uid()) or (select private.is_admin()));

create policy talent_profiles_insert on public.talent_profiles
  for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy talent_profiles_update on public.talent_profiles
  for update to authenticated
  using (user_id = (select auth.uid()) or (select private.is_admin()))
  with check (user_id = (select auth.uid()) or (select private.is_admin()));

create policy talent_profiles_delete on public.talent_profiles
  for delete to authenticated
  using ((select private.is_super_admin()));
