-- The audit log written from the change record (20261202000100):
-- - source names the input that brought notice of the change, now including the
--   sidecar's own catch-up of pending records;
-- - every admin edit is logged, not only status changes: an edit of admin_notes or
--   rejection_reason alone is an 'edit', a re-sent email a 'resend_email'; and
--   changed_columns holds the old and new value of each admin column the change
--   touched ({"admin_notes": {"old": …, "new": …}}), on status changes too;
-- - change_id names the record the row was written from.
alter table public.admin_actions drop constraint admin_actions_source_check;
alter table public.admin_actions add constraint admin_actions_source_check
  check (source in ('replication', 'webhook', 'catchup'));
alter table public.admin_actions drop constraint admin_actions_action_type_check;
alter table public.admin_actions add constraint admin_actions_action_type_check
  check (action_type in ('approve', 'reject', 'activate', 'deactivate', 'reopen', 'delete', 'edit', 'resend_email'));
alter table public.admin_actions add column changed_columns jsonb;
alter table public.admin_actions add column change_id bigint;
comment on column public.admin_actions.idempotency_key is
  'change:<id>/audit: derived from the change record, so a change claimed twice logs once.';
comment on column public.admin_actions.changed_columns is
  'Admin columns this change set: {"column": {"old": value, "new": value}}.';
