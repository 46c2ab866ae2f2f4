-- Emails are rendered when they are sent, not when they are queued.
--
-- The sidecar queues an email in the transaction that logs the status change. Writing
-- the rendered subject and bodies there made every queued email about 2 KB of WAL
-- and some 20 µs of template work inside the change pipeline, which is what held a
-- backlog drain back. The queue row now carries the template variables (a snapshot
-- of the talent at the change, and the settings then in force); the sender renders
-- them with the templates in force when it sends, and writes subject, content and
-- text_content with the sent status. A queued row therefore has no content yet; a
-- row written with content (by hand, or by an older sidecar) is sent as it is.
alter table public.email_notifications
  add column template_vars jsonb,
  alter column subject drop not null,
  alter column content drop not null,
  add constraint email_notifications_renderable
    check (content is not null or template_vars is not null);

comment on column public.email_notifications.template_vars is
  'The variables the email renders with (sidecar Vars, as JSON). Rendered at send time; subject and content are filled in then.';
