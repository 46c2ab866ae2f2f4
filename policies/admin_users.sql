-- admin_users: admins see the admin list; everyone else sees at most their own row.
-- No client writes: ops manage admins with the service role.
create policy admin_users_select on public.admin_users
  for select to authenticated
  using (id = (select auth.uid()) or (select private.is_admin()));
