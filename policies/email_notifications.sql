-- email_notifications: admins read every email; a talent reads the emails sent to
-- them about their own profile (not the notice sent to admins). No client writes.
create policy email_notifications_select on public.email_notifications
  for select to authenticated
  using (
    (select private.is_admin())
    or (
      email_type <> 'admin_new_submission'
      and talent_profile_id in (
        select p.id from public.talent_profiles p where p.user_id = (select auth.uid())
      )
    )
  );
