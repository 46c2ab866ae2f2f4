-- admin_actions: the audit log. Admins read it; nobody writes it through the API
-- (no insert/update/delete grant, and no policy for those commands).
create policy admin_actions_select on public.admin_actions
  for select to authenticated
  using ((select private.is_admin()));
