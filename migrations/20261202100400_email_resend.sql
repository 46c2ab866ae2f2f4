-- The email history sorts by sent_at (PON-47: idx_email_notifications_sent_at).
create index email_notifications_sent_at_idx on public.email_notifications (sent_at desc);

-- Admins re-send a failed or bounced email from the dashboard: the row goes back to
-- the outbox exactly as a new one (status queued, due now, no attempts, no error, no
-- provider id or send time), keeping its idempotency key, content and recipient. The
-- sender claims it at its next poll, or at once through NOTIFY email_outbox.
--
-- The re-send is an admin action: the helper records it in sidecar.changes (as the
-- triggers record status changes, 20261202000100), in the same transaction, so the
-- sidecar writes its audit row exactly once.
--
-- Admins have no write grant on email_notifications (only the sidecar writes it) and
-- get none: the RPC is security invoker and checks the caller; the one change it
-- makes is done by a security-definer helper in the unexposed private schema, which
-- checks the caller again (a definer's current_user is its owner, so it reads the
-- role PostgREST's `set local role` set).
create function private.email_requeue(email_id uuid)
returns public.email_notifications
language plpgsql
security definer
set search_path = ''
as $$
declare
  e public.email_notifications;
  was text;
  uid uuid := auth.uid();
begin
  if current_setting('role') in ('anon', 'authenticated') and not (select private.is_admin()) then
    raise exception 'admin_resend_email is for admins only' using errcode = '42501';
  end if;
  select * into e from public.email_notifications n where n.id = email_id for update;
  if not found then
    raise exception 'no email notification %', email_id using errcode = '22023';
  end if;
  if e.status not in ('failed', 'bounced') then
    raise exception 'only a failed or bounced email can be re-sent; this one is %', e.status
      using errcode = '23514',
            hint = case e.status when 'queued' then 'It is already waiting to be sent.'
                                 else 'A sent or delivered email is not sent again.' end;
  end if;
  was := e.status;
  update public.email_notifications n
     set status = 'queued',
         attempts = 0,
         next_attempt_at = now(),
         last_error = null,
         provider_message_id = null,
         sent_at = null,
         delivered_at = null,
         updated_at = now()
   where n.id = e.id
  returning * into e;
  insert into sidecar.changes (row_key, table_name, op, actor_id, actor_role, old_row, new_row)
  values (coalesce('talent:' || e.talent_profile_id, 'email:' || e.id), 'email_notifications', 'UPDATE',
          uid, private.change_actor_role(null, uid),
          jsonb_build_object('id', e.id, 'status', was),
          jsonb_build_object('id', e.id, 'status', e.status, 'talent_profile_id', e.talent_profile_id,
                             'email_type', e.email_type, 'recipient_email', e.recipient_email));
  perform pg_notify('email_outbox', '');
  return e;
end
$$;
revoke all on function private.email_requeue(uuid) from public, anon;
grant execute on function private.email_requeue(uuid) to authenticated, service_role;

create function public.admin_resend_email(id uuid)
returns public.email_notifications
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') and not (select private.is_admin()) then
    raise exception 'admin_resend_email is for admins only' using errcode = '42501';
  end if;
  if admin_resend_email.id is null then
    raise exception 'id must name an email notification' using errcode = '22023';
  end if;
  return private.email_requeue(admin_resend_email.id);
end
$$;
comment on function public.admin_resend_email(uuid) is
  'Admins: put a failed or bounced email back in the outbox (status queued, due now, attempts 0).';
revoke all on function public.admin_resend_email(uuid) from public, anon;
grant execute on function public.admin_resend_email(uuid) to authenticated, service_role;
