-- email_settings: the single settings row, read and edited by admins only.
create policy email_settings_select on public.email_settings
  for select to authenticated
  using ((select private.is_admin()));

create policy email_settings_update on public.email_settings
  for update to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));
