-- Default admin email configuration (one settings row, six templates) and the outbox
-- columns the sidecar's sender and delivery tracking need. Admins change the content
-- later through PostgREST; "on conflict do nothing" never overwrites their edits.
--
-- Templates are Go templates over a fixed set of variables (documented in
-- sidecar/internal/email/render.go): .TalentName .TalentEmail .TalentID .Status
-- .PreviousStatus .RejectionReason .SubmittedAt .PortalURL .ProfileURL .AdminURL
-- .CompanyName. Subjects and text bodies use text/template, HTML bodies html/template
-- (variables are escaped).

alter table public.email_notifications
  add column from_email text,
  add column from_name text,
  add column reply_to text,
  add column bounce_reason text,
  add column last_event_at timestamptz;
comment on column public.email_notifications.from_email is
  'Sender fixed when the email was queued, so a settings change never alters a queued email.';
comment on column public.email_notifications.last_event_at is
  'Timestamp of the SendGrid event that set status delivered/bounced; a later event wins, on a tie bounced wins.';
comment on column public.email_notifications.last_error is
  'Last provider error, or why the email was not sent: "held back: …" (per-recipient flood limit) or "suppressed: …" (email or template switched off). Such rows have status failed and were never sent.';

-- Flood control counts a recipient's recent emails.
create index email_notifications_recipient_created_idx
  on public.email_notifications (lower(recipient_email), created_at desc);

insert into public.email_settings (id, enabled, from_email, from_name, reply_to, admin_recipients, portal_url)
values (true, true, 'talent@example.com', 'Northlight Talent', 'support@example.com',
        '{talent-review@example.com}', 'http://127.0.0.1:3000')
on conflict do nothing;

insert into public.email_templates (name, subject, html_body, text_body) values
('welcome',
 $s$Thanks for applying to {{.CompanyName}}, {{.TalentName}}$s$,
 $h$<div style="font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;padding:32px 16px;color:#1f2933">
  <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
    <p style="margin:0 0 24px;font-size:14px;letter-spacing:1px;text-transform:uppercase;color:#5b6bbf">{{.CompanyName}}</p>
    <h1 style="margin:0 0 16px;font-size:22px">Thanks for applying, {{.TalentName}}!</h1>
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">We have received your profile and our team will review it shortly. Most reviews take two to three working days.</p>
    <p style="margin:0 0 24px;font-size:16px;line-height:1.5">You do not need to do anything in the meantime. We will email you as soon as there is news.</p>
    <a href="{{.ProfileURL}}" style="display:inline-block;background:#5b6bbf;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-size:16px">View your profile</a>
    <p style="margin:32px 0 0;font-size:13px;color:#7b8794">You are receiving this email because you submitted a talent profile as {{.TalentEmail}}. Questions? Just reply to this email.</p>
  </div>
</div>$h$,
 $t$Hi {{.TalentName}},

Thanks for applying to {{.CompanyName}}! We have received your profile and our team will review it shortly. Most reviews take two to three working days.

You do not need to do anything in the meantime. We will email you as soon as there is news.

View your profile: {{.ProfileURL}}

Questions? Just reply to this email.

The {{.CompanyName}} team
$t$),

('admin_new_submission',
 $s$New talent submission: {{.TalentName}}$s$,
 $h$<div style="font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;padding:32px 16px;color:#1f2933">
  <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
    <p style="margin:0 0 24px;font-size:14px;letter-spacing:1px;text-transform:uppercase;color:#5b6bbf">{{.CompanyName}} review queue</p>
    <h1 style="margin:0 0 16px;font-size:22px">A new profile is waiting for review</h1>
    <p style="margin:0 0 8px;font-size:16px;line-height:1.5"><strong>Name:</strong> {{.TalentName}}</p>
    <p style="margin:0 0 8px;font-size:16px;line-height:1.5"><strong>Email:</strong> {{.TalentEmail}}</p>
    <p style="margin:0 0 24px;font-size:16px;line-height:1.5"><strong>Submitted:</strong> {{.SubmittedAt}}</p>
    <a href="{{.AdminURL}}" style="display:inline-block;background:#5b6bbf;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-size:16px">Review the profile</a>
    <p style="margin:32px 0 0;font-size:13px;color:#7b8794">You receive this notice because you are listed as a review recipient in the email settings.</p>
  </div>
</div>$h$,
 $t$A new profile is waiting for review.

Name:      {{.TalentName}}
Email:     {{.TalentEmail}}
Submitted: {{.SubmittedAt}}

Review it here: {{.AdminURL}}

You receive this notice because you are listed as a review recipient in the email settings.
$t$),

('approval',
 $s$You're approved, {{.TalentName}}!$s$,
 $h$<div style="font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;padding:32px 16px;color:#1f2933">
  <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
    <p style="margin:0 0 24px;font-size:14px;letter-spacing:1px;text-transform:uppercase;color:#5b6bbf">{{.CompanyName}}</p>
    <h1 style="margin:0 0 16px;font-size:22px">Good news, {{.TalentName}}: you're approved</h1>
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">Our team has reviewed your profile and we would love to work with you.</p>
    <p style="margin:0 0 24px;font-size:16px;line-height:1.5">We are now setting up your account. You will get one more email when your profile goes live and clients can book you.</p>
    <a href="{{.ProfileURL}}" style="display:inline-block;background:#2f9e6e;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-size:16px">See your profile</a>
    <p style="margin:32px 0 0;font-size:13px;color:#7b8794">Welcome aboard! Reply to this email if you have any questions.</p>
  </div>
</div>$h$,
 $t$Good news, {{.TalentName}}: you're approved!

Our team has reviewed your profile and we would love to work with you.

We are now setting up your account. You will get one more email when your profile goes live and clients can book you.

See your profile: {{.ProfileURL}}

Welcome aboard! Reply to this email if you have any questions.

The {{.CompanyName}} team
$t$),

('rejection',
 $s$An update on your {{.CompanyName}} application$s$,
 $h$<div style="font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;padding:32px 16px;color:#1f2933">
  <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
    <p style="margin:0 0 24px;font-size:14px;letter-spacing:1px;text-transform:uppercase;color:#5b6bbf">{{.CompanyName}}</p>
    <h1 style="margin:0 0 16px;font-size:22px">Thank you for applying, {{.TalentName}}</h1>
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">We have carefully reviewed your profile, and we are not able to move forward with it at this time.</p>
    {{if .RejectionReason}}<div style="margin:0 0 16px;padding:12px 16px;background:#f4f5f7;border-left:4px solid #5b6bbf;font-size:15px;line-height:1.5"><strong>Feedback from our team:</strong><br>{{.RejectionReason}}</div>{{end}}
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">This is not necessarily the end: our needs change often, and we may reopen your profile so you can update it and apply again.</p>
    <p style="margin:32px 0 0;font-size:13px;color:#7b8794">Questions about this decision? Reply to this email and a person will answer.</p>
  </div>
</div>$h$,
 $t$Hi {{.TalentName}},

Thank you for applying to {{.CompanyName}}. We have carefully reviewed your profile, and we are not able to move forward with it at this time.
{{if .RejectionReason}}
Feedback from our team:
{{.RejectionReason}}
{{end}}
This is not necessarily the end: our needs change often, and we may reopen your profile so you can update it and apply again.

Questions about this decision? Reply to this email and a person will answer.

The {{.CompanyName}} team
$t$),

('activation',
 $s$Your {{.CompanyName}} profile is live$s$,
 $h$<div style="font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;padding:32px 16px;color:#1f2933">
  <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
    <p style="margin:0 0 24px;font-size:14px;letter-spacing:1px;text-transform:uppercase;color:#5b6bbf">{{.CompanyName}}</p>
    <h1 style="margin:0 0 16px;font-size:22px">You're live, {{.TalentName}}!</h1>
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">Your profile is now active and visible to our clients. Bookings and requests will come to {{.TalentEmail}}.</p>
    <p style="margin:0 0 24px;font-size:16px;line-height:1.5">Keep your profile fresh: new samples and an up-to-date location help clients choose you.</p>
    <a href="{{.ProfileURL}}" style="display:inline-block;background:#2f9e6e;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-size:16px">Open your profile</a>
    <p style="margin:32px 0 0;font-size:13px;color:#7b8794">Need a hand? Reply to this email.</p>
  </div>
</div>$h$,
 $t$You're live, {{.TalentName}}!

Your profile is now active and visible to our clients. Bookings and requests will come to {{.TalentEmail}}.

Keep your profile fresh: new samples and an up-to-date location help clients choose you.

Open your profile: {{.ProfileURL}}

Need a hand? Reply to this email.

The {{.CompanyName}} team
$t$),

('deactivation',
 $s$Your {{.CompanyName}} profile has been paused$s$,
 $h$<div style="font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;padding:32px 16px;color:#1f2933">
  <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
    <p style="margin:0 0 24px;font-size:14px;letter-spacing:1px;text-transform:uppercase;color:#5b6bbf">{{.CompanyName}}</p>
    <h1 style="margin:0 0 16px;font-size:22px">Your profile has been paused</h1>
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">Hi {{.TalentName}}, your profile is no longer visible to clients, so you will not receive new booking requests for now.</p>
    <p style="margin:0 0 16px;font-size:16px;line-height:1.5">Your details are kept safe, and we can reactivate your profile at any time.</p>
    <p style="margin:32px 0 0;font-size:13px;color:#7b8794">Did not expect this, or ready to come back? Reply to this email and we will sort it out.</p>
  </div>
</div>$h$,
 $t$Hi {{.TalentName}},

Your {{.CompanyName}} profile has been paused. It is no longer visible to clients, so you will not receive new booking requests for now.

Your details are kept safe, and we can reactivate your profile at any time.

Did not expect this, or ready to come back? Reply to this email and we will sort it out.

The {{.CompanyName}} team
$t$)
on conflict do nothing;
