-- email_templates: read and edited by admins only.
create policy email_templates_select on public.email_templates
  for select to authenticated
  using ((select private.is_admin()));

create policy email_templates_update on public.email_templates
  for update to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));
