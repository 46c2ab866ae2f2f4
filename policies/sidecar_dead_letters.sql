-- sidecar_dead_letters: admins read what the sidecar could not handle.
create policy sidecar_dead_letters_select on public.sidecar_dead_letters
  for select to authenticated
  using ((select private.is_admin()));
