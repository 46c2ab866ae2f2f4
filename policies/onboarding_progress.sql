-- onboarding_progress: the saved wizard draft belongs to its user; admins may read it.
create policy onboarding_progress_select on public.onboarding_progress
  for select to authenticated
  using (user_id = (select auth.uid()) or (select private.is_admin()));

create policy onboarding_progress_insert on public.onboarding_progress
  for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy onboarding_progress_update on public.onboarding_progress
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy onboarding_progress_delete on public.onboarding_progress
  for delete to authenticated
  using (user_id = (select auth.uid()));
