package email

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
)

// Queuer is the change.Handler that queues the emails of a talent status change
// (DESIGN.md state machine) into email_notifications, in the pipeline's transaction,
// rendered with the configuration in force. Each row's idempotency key is
// ev.Key:template:recipient, so the same change handled twice queues nothing more.
//
// Rows that are not to be sent are still recorded, with status failed and a
// last_error saying why: "suppressed: …" when email or the template is switched off,
// "held back: …" when the recipient reached the per-recipient limit.
type Queuer struct {
	live *Live
	log  *slog.Logger
}

// NewQueuer returns the handler; live supplies the configuration.
func NewQueuer(live *Live, log *slog.Logger) *Queuer {
	return &Queuer{live: live, log: log.With("component", "email.queue")}
}

// NotifyChannel is the channel a queued email is announced on, so senders wake at
// once instead of at their next poll.
const NotifyChannel = "email_outbox"

// Transition returns the talent template a status change sends ("" for none).
func Transition(from, to string) string {
	switch from + ">" + to {
	case "draft>submitted":
		return Welcome
	case "submitted>approved":
		return Approval
	case "submitted>rejected":
		return Rejection
	case "approved>active", "inactive>active":
		return Activation
	case "active>inactive":
		return Deactivation
	}
	return ""
}

// Handle queues the emails for a talent_profiles status change.
func (q *Queuer) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if ev.Table != "talent_profiles" || (ev.Schema != "" && ev.Schema != "public") || ev.Op != change.Update || ev.Old == nil || ev.New == nil {
		return nil
	}
	from, to := ev.Old.Str("status"), ev.New.Str("status")
	if from == to {
		return nil
	}
	tpl := Transition(from, to)
	if tpl == "" {
		return nil
	}
	if ev.Key == "" {
		return fmt.Errorf("queueing %s email: event has no key", tpl)
	}
	cfg := q.live.Current()
	if cfg.Settings == nil {
		return fmt.Errorf("queueing %s email: no valid email_settings applied", tpl)
	}
	v := varsFor(ev.New, from, to, cfg.Settings)
	talentID := ev.New.Str("id")
	queued := 0

	if v.TalentEmail == "" {
		q.log.Warn("talent has no email address; nothing to send", "talent", talentID, "template", tpl)
	} else {
		n, err := q.queue(ctx, tx, cfg, ev.Key, tpl, talentID, v.TalentEmail, v, "")
		if err != nil {
			return err
		}
		queued += n
	}
	if tpl == Welcome {
		for _, admin := range cfg.Settings.AdminRecipients {
			n, err := q.queue(ctx, tx, cfg, ev.Key, AdminNewSubmission, talentID, admin, v, talentID)
			if err != nil {
				return err
			}
			queued += n
		}
	}
	if queued > 0 {
		if _, err := tx.Exec(ctx, `select pg_notify($1, '')`, NotifyChannel); err != nil {
			return fmt.Errorf("announcing queued email: %w", err)
		}
	}
	return nil
}

// queue inserts one email; it returns 1 when a sendable row was inserted.
// floodScope, when set, narrows flood control to emails about that talent (admin
// notices: an admin receives one per submission and must not lose them to a busy day).
func (q *Queuer) queue(ctx context.Context, tx pgx.Tx, cfg *Config, key, tpl, talentID, to string, v Vars, floodScope string) (int, error) {
	s := cfg.Settings
	idem := key + ":" + tpl + ":" + strings.ToLower(to)
	t := cfg.Templates[tpl]
	status, why := "queued", ""
	var r Rendered
	if t == nil {
		status, why = "failed", "suppressed: template "+tpl+" has no valid version (see email_templates.apply_error)"
		r = Rendered{Subject: "(" + tpl + ")", HTML: "-", Text: "-"}
	} else {
		var err error
		if r, err = t.Render(v); err != nil {
			status, why = "failed", "suppressed: rendering failed: "+err.Error()
			r = Rendered{Subject: "(" + tpl + ")", HTML: "-", Text: "-"}
		} else if !s.Enabled {
			status, why = "failed", "suppressed: email is switched off in email_settings"
		} else if !t.Enabled {
			status, why = "failed", "suppressed: template "+tpl+" is disabled"
		}
	}
	if status == "queued" {
		// One recipient's count at a time, so concurrent pipelines cannot both pass.
		if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtext('email_flood:' || lower($1)))`, to); err != nil {
			return 0, fmt.Errorf("locking flood count for %s: %w", to, err)
		}
		var recent int
		err := tx.QueryRow(ctx, `select count(*) from public.email_notifications
			where lower(recipient_email) = lower($1)
			  and created_at > now() - make_interval(secs => $2)
			  and status <> 'failed'
			  and ($3::uuid is null or talent_profile_id = $3::uuid)
			  and idempotency_key <> $4`,
			to, s.WindowSeconds, nullIfEmpty(floodScope), idem).Scan(&recent)
		if err != nil {
			return 0, fmt.Errorf("counting recent emails to %s: %w", to, err)
		}
		if recent >= s.Limit {
			status = "failed"
			why = fmt.Sprintf("held back: %s already received %d emails in the last %s (per_recipient_limit %d)",
				to, recent, time.Duration(s.WindowSeconds)*time.Second, s.Limit)
			q.log.Warn("email held back by flood control", "recipient", to, "template", tpl, "talent", talentID)
		}
	}
	tag, err := tx.Exec(ctx, `insert into public.email_notifications
		(talent_profile_id, email_type, recipient_email, subject, content, text_content, status, last_error,
		 idempotency_key, from_email, from_name, reply_to)
		values ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		on conflict (idempotency_key) do nothing`,
		nullIfEmpty(talentID), tpl, to, r.Subject, r.HTML, r.Text, status, nullIfEmpty(why), idem,
		s.FromEmail, s.FromName, nullIfEmpty(s.ReplyTo))
	if err != nil {
		return 0, fmt.Errorf("queueing %s email to %s: %w", tpl, to, err)
	}
	if tag.RowsAffected() == 1 && status == "queued" {
		return 1, nil
	}
	return 0, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// varsFor builds the template variables of a profile row.
func varsFor(r change.Row, from, to string, s *Settings) Vars {
	portal := strings.TrimRight(s.PortalURL, "/")
	id := r.Str("id")
	v := Vars{
		TalentName:      strings.TrimSpace(r.Str("name")),
		TalentEmail:     strings.TrimSpace(r.Str("email")),
		TalentID:        id,
		Status:          to,
		PreviousStatus:  from,
		RejectionReason: r.Str("rejection_reason"),
		PortalURL:       portal,
		ProfileURL:      portal + "/profile",
		AdminURL:        portal + "/admin/talent/" + id,
		CompanyName:     s.FromName,
	}
	if v.TalentName == "" {
		v.TalentName = "there"
	}
	if v.CompanyName == "" {
		v.CompanyName = "the talent team"
	}
	v.SubmittedAt = formatTime(r["submitted_at"])
	return v
}

func formatTime(v any) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02T15:04:05.999999"} {
			if p, err := time.Parse(layout, v); err == nil {
				t = p
				break
			}
		}
		if t.IsZero() {
			return v
		}
	default:
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}
