-- media_violations: inline media the sidecar found past the guard. Admins read it;
-- only the sidecar writes (service_role, no insert/update/delete grant or policy
-- for API roles).
create policy media_violations_select on public.media_violations
  for select to authenticated
  using ((select private.is_admin()));
