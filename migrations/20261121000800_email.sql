-- Email outbox and the admin email configuration.
create table public.email_notifications (
  id uuid primary key default gen_random_uuid(),
  talent_profile_id uuid references public.talent_profiles (id) on delete set null,
  email_type text not null,
  recipient_email text not null,
  subject text not null,
  content text not null,
  text_content text,
  status text not null default 'queued',
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  provider_message_id text,
  idempotency_key text not null,
  sent_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint email_notifications_idempotency_key_key unique (idempotency_key),
  constraint email_notifications_status_check
    check (status in ('queued', 'sent', 'delivered', 'failed', 'bounced')),
  constraint email_notifications_email_type_check
    check (email_type in ('welcome', 'admin_new_submission', 'approval', 'rejection', 'activation', 'deactivation'))
);
comment on table public.email_notifications is
  'One row per email. Queued by the sidecar in the transaction that logs the change; sent from the outbox.';

alter table public.email_notifications enable row level security;
revoke all on table public.email_notifications from anon, authenticated;
grant select on table public.email_notifications to authenticated;
grant all on table public.email_notifications to service_role;
create index email_notifications_talent_profile_idx on public.email_notifications (talent_profile_id);
create index email_notifications_due_idx on public.email_notifications (next_attempt_at) where status = 'queued';
create index email_notifications_provider_message_idx on public.email_notifications (provider_message_id)
  where provider_message_id is not null;

create table public.email_settings (
  id boolean primary key default true constraint email_settings_single_row check (id),
  enabled boolean not null default true,
  from_email text not null,
  from_name text not null default '',
  reply_to text,
  admin_recipients text[] not null default '{}',
  portal_url text not null,
  per_recipient_limit integer not null default 5,
  per_recipient_window_seconds integer not null default 3600,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  applied_at timestamptz,
  apply_error text,
  constraint email_settings_from_email_format check (from_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and length(from_email) <= 254),
  constraint email_settings_reply_to_format check (reply_to is null or (reply_to ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and length(reply_to) <= 254)),
  constraint email_settings_from_name_length check (length(from_name) <= 200),
  constraint email_settings_admin_recipients_count check (cardinality(admin_recipients) <= 50),
  constraint email_settings_portal_url_format check (portal_url ~ '^https?://' and length(portal_url) <= 2048),
  constraint email_settings_limit_range check (per_recipient_limit between 1 and 1000),
  constraint email_settings_window_range check (per_recipient_window_seconds between 60 and 604800)
);
comment on table public.email_settings is
  'The admin email configuration (one row). The sidecar applies changes live and writes applied_at / apply_error.';

create table public.email_templates (
  name text primary key,
  enabled boolean not null default true,
  subject text not null,
  html_body text not null,
  text_body text not null,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  applied_at timestamptz,
  apply_error text,
  constraint email_templates_name_check
    check (name in ('welcome', 'admin_new_submission', 'approval', 'rejection', 'activation', 'deactivation')),
  constraint email_templates_subject_length check (length(subject) between 1 and 300),
  constraint email_templates_html_body_length check (length(html_body) between 1 and 100000),
  constraint email_templates_text_body_length check (length(text_body) between 1 and 50000)
);
comment on table public.email_templates is
  'Email templates edited by admins; rendered by the sidecar with Go html/template and text/template.';

alter table public.email_settings enable row level security;
alter table public.email_templates enable row level security;
alter table public.email_settings replica identity full;
alter table public.email_templates replica identity full;
revoke all on table public.email_settings, public.email_templates from anon, authenticated;
grant select on table public.email_settings, public.email_templates to authenticated;
-- Column grants: admins edit content only; names, ids and apply status are not theirs.
grant update (enabled, from_email, from_name, reply_to, admin_recipients, portal_url,
              per_recipient_limit, per_recipient_window_seconds)
  on table public.email_settings to authenticated;
grant update (enabled, subject, html_body, text_body) on table public.email_templates to authenticated;
grant all on table public.email_settings, public.email_templates to service_role;

-- Admins edit content; whether it was applied is the sidecar's to say. Any change by
-- an API role clears applied_at/apply_error (the sidecar will set them again) and
-- stamps who edited.
create function private.email_config_before_update() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    new.applied_at := null;
    new.apply_error := null;
    new.updated_at := now();
    new.updated_by := auth.uid();
  end if;
  return new;
end
$$;

create trigger email_settings_before_update
  before update on public.email_settings
  for each row execute function private.email_config_before_update();
create trigger email_templates_before_update
  before update on public.email_templates
  for each row execute function private.email_config_before_update();
