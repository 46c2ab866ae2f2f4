package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
)

// emailSettings is the validated email_settings row.
type emailSettings struct {
	Enabled         bool
	FromEmail       string
	FromName        string
	ReplyTo         string
	AdminRecipients []string
	PortalURL       string
	Limit           int
	WindowSeconds   int
}

// Config is one consistent, validated admin email configuration. It is immutable
// once published: changes build a new Config.
type Config struct {
	Settings  *emailSettings // nil until a valid settings row has been applied
	Templates map[string]*tmpl
}

func (c *Config) with(s *emailSettings, t *tmpl) *Config {
	n := &Config{Settings: c.Settings, Templates: make(map[string]*tmpl, len(c.Templates)+1)}
	for k, v := range c.Templates {
		n.Templates[k] = v
	}
	if s != nil {
		n.Settings = s
	}
	if t != nil {
		n.Templates[t.Name] = t
	}
	return n
}

// Live holds the admin email configuration and applies changes to it from the
// change stream. It is a change.Handler (validating a change and writing
// applied_at/apply_error in the pipeline's transaction) and a change.Committer
// (publishing the validated configuration only once that transaction committed).
// A change that does not validate is refused and the last good version stays.
type Live struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	cur atomic.Pointer[Config]

	mu      sync.Mutex
	pending *Config // validated in a transaction not yet committed
}

// NewLive returns a Live with an empty configuration; call Load before use.
func NewLive(pool *pgxpool.Pool, log *slog.Logger) *Live {
	l := &Live{pool: pool, log: log.With("component", "email.config")}
	l.cur.Store(&Config{Templates: map[string]*tmpl{}})
	return l
}

// Current returns the configuration in force.
func (l *Live) Current() *Config { return l.cur.Load() }

// RenderStored renders a queued email (its template name and the template_vars the
// Queuer stored) with the templates in force now: emails are rendered when sent.
func (l *Live) RenderStored(tpl string, vars []byte) (Rendered, error) {
	return l.Current().RenderStored(tpl, vars)
}

// ErrNoSettings: an email cannot be rendered until a valid email_settings row is
// applied (its portal links come from it). RenderStored wraps it; the sender
// (emailsend) treats it as temporary and retries the row later.
var ErrNoSettings = errors.New("no valid email_settings applied: the portal links are unknown")

// RenderStored renders template tpl with variables stored as JSON, and the portal
// links and company name of the settings in force (see templateVars).
func (c *Config) RenderStored(tpl string, vars []byte) (Rendered, error) {
	var v templateVars
	if err := json.Unmarshal(vars, &v); err != nil {
		return Rendered{}, fmt.Errorf("template %s: reading template_vars: %w", tpl, err)
	}
	switch {
	case c.Settings != nil:
		v.withSettings(c.Settings.PortalURL, c.Settings.FromName)
	case v.PortalURL == "":
		return Rendered{}, fmt.Errorf("template %s: %w", tpl, ErrNoSettings)
	}
	t := c.Templates[tpl]
	if t == nil {
		return Rendered{}, fmt.Errorf("template %s has no valid version (see email_templates.apply_error)", tpl)
	}
	return t.Render(v)
}

// settingsColumns is what Load and Preview read of email_settings, in the order of
// emailSettings.scanTargets.
const settingsColumns = `enabled, from_email, from_name, coalesce(reply_to, ''), admin_recipients,
	portal_url, per_recipient_limit, per_recipient_window_seconds`

func (s *emailSettings) scanTargets() []any {
	return []any{&s.Enabled, &s.FromEmail, &s.FromName, &s.ReplyTo, &s.AdminRecipients, &s.PortalURL,
		&s.Limit, &s.WindowSeconds}
}

// Load reads and validates the whole configuration (at start: changes made while no
// sidecar ran are judged here). It writes applied_at/apply_error where they are out of
// date; a row that does not validate is left out (its emails are recorded as failed
// until an admin fixes it).
func (l *Live) Load(ctx context.Context) error {
	cfg := &Config{Templates: map[string]*tmpl{}}
	type verdict struct {
		table, key string
		err        error
		wasApplied bool
		oldErr     string
	}
	var verdicts []verdict

	rows, err := l.pool.Query(ctx, `select `+settingsColumns+`, applied_at is not null, coalesce(apply_error, '')
		from public.email_settings`)
	if err != nil {
		return fmt.Errorf("loading email settings: %w", err)
	}
	for rows.Next() {
		var s emailSettings
		var v verdict
		if err := rows.Scan(append(s.scanTargets(), &v.wasApplied, &v.oldErr)...); err != nil {
			rows.Close()
			return fmt.Errorf("loading email settings: %w", err)
		}
		v.table, v.key = "email_settings", ""
		if v.err = validateSettings(&s); v.err == nil {
			cfg.Settings = &s
		}
		verdicts = append(verdicts, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading email settings: %w", err)
	}

	rows, err = l.pool.Query(ctx, `select name, enabled, subject, html_body, text_body,
		applied_at is not null, coalesce(apply_error, '') from public.email_templates`)
	if err != nil {
		return fmt.Errorf("loading email templates: %w", err)
	}
	for rows.Next() {
		var name, subject, html, text string
		var enabled bool
		v := verdict{table: "email_templates"}
		if err := rows.Scan(&name, &enabled, &subject, &html, &text, &v.wasApplied, &v.oldErr); err != nil {
			rows.Close()
			return fmt.Errorf("loading email templates: %w", err)
		}
		v.key = name
		var t *tmpl
		if t, v.err = compile(name, enabled, subject, html, text); v.err == nil {
			cfg.Templates[name] = t
		}
		verdicts = append(verdicts, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading email templates: %w", err)
	}

	for _, v := range verdicts {
		if v.err == nil && v.wasApplied && v.oldErr == "" {
			continue
		}
		if v.err != nil && v.oldErr == v.err.Error() {
			continue
		}
		if v.err != nil {
			l.log.Warn("refusing invalid email configuration", "table", v.table, "row", v.key, "error", v.err)
		}
		if err := markApplied(ctx, l.pool, v.table, v.key, "", v.err); err != nil {
			return err
		}
	}
	if cfg.Settings == nil {
		l.log.Warn("no valid email_settings row: no email will be queued until one is applied")
	}
	l.mu.Lock()
	l.pending = nil
	l.mu.Unlock()
	l.cur.Store(cfg)
	l.log.Info("email configuration loaded", "templates", len(cfg.Templates), "settings", cfg.Settings != nil)
	return nil
}

// markApplied records the verdict on a configuration row. updatedAt, when known,
// guards against stamping a row that an admin changed again since the validated
// version (that newer version has its own event coming).
func markApplied(ctx context.Context, db execer, table, name, updatedAt string, verdict error) error {
	var msg any
	if verdict != nil {
		msg = verdict.Error()
	}
	var ua any
	if updatedAt != "" {
		ua = updatedAt
	}
	var sql string
	switch table {
	case "email_settings":
		sql = `update public.email_settings set applied_at = case when $1::text is null then now() end, apply_error = $1
			where ($2::text is null or updated_at = $2::text::timestamptz)`
		_, err := db.Exec(ctx, sql, msg, ua)
		if err != nil {
			return fmt.Errorf("recording email_settings verdict: %w", err)
		}
	default:
		sql = `update public.email_templates set applied_at = case when $1::text is null then now() end, apply_error = $1
			where name = $3 and ($2::text is null or updated_at = $2::text::timestamptz)`
		_, err := db.Exec(ctx, sql, msg, ua, name)
		if err != nil {
			return fmt.Errorf("recording email_templates verdict for %s: %w", name, err)
		}
	}
	return nil
}

// Handle validates a change of email_settings or email_templates and records the
// verdict in tx. Its own verdict (applied_at, apply_error) does not come back as a
// change: the record trigger leaves bookkeeping columns out (migration
// 20261202000100).
func (l *Live) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if ev.Op == change.Delete {
		l.log.Warn("ignoring deletion of email configuration row; the last good version stays", "table", ev.Table, "row", ev.Old.Str("name"))
		return nil
	}
	r := ev.New
	l.mu.Lock()
	defer l.mu.Unlock()
	base := l.pending
	if base == nil {
		base = l.cur.Load()
	}
	var next *Config
	var verdict error
	name := ""
	if ev.Table == "email_settings" {
		s, err := settingsFromRow(r)
		if err == nil {
			err = validateSettings(s)
		}
		verdict = err
		if err == nil {
			next = base.with(s, nil)
		}
	} else {
		name = r.Str("name")
		t, err := compile(name, r["enabled"] == true, r.Str("subject"), r.Str("html_body"), r.Str("text_body"))
		verdict = err
		if err == nil {
			next = base.with(nil, t)
		}
	}
	if verdict != nil {
		l.log.Warn("refusing invalid email configuration; keeping the last good version", "table", ev.Table, "row", name, "error", verdict)
	}
	if err := markApplied(ctx, tx, ev.Table, name, r.Str("updated_at"), verdict); err != nil {
		return err
	}
	if next != nil {
		l.pending = next
	}
	return nil
}

// Watches names the change records of the email configuration.
func (l *Live) Watches() change.Watch {
	return change.Watch{Records: []string{"email_settings", "email_templates"}}
}

// Flush has nothing to write: Handle records each verdict as it decides it.
func (l *Live) Flush(context.Context, pgx.Tx) error { return nil }

// Discard keeps what was validated: a replay after a rollback handles the same
// records again and validates them anew, and a record that failed validated
// nothing.
func (l *Live) Discard() {}

// Committed publishes what the committed transaction validated.
func (l *Live) Committed(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending != nil {
		l.cur.Store(l.pending)
		l.pending = nil
		l.log.Info("email configuration applied")
	}
}

func settingsFromRow(r change.Row) (*emailSettings, error) {
	s := &emailSettings{
		Enabled:   r["enabled"] == true,
		FromEmail: r.Str("from_email"),
		FromName:  r.Str("from_name"),
		ReplyTo:   r.Str("reply_to"),
		PortalURL: r.Str("portal_url"),
	}
	var ok bool
	var n int64
	if n, ok = r.Int("per_recipient_limit"); !ok {
		return nil, errors.New("email_settings: per_recipient_limit is not a number")
	}
	s.Limit = int(n)
	if n, ok = r.Int("per_recipient_window_seconds"); !ok {
		return nil, errors.New("email_settings: per_recipient_window_seconds is not a number")
	}
	s.WindowSeconds = int(n)
	var err error
	if s.AdminRecipients, err = textArray(r["admin_recipients"]); err != nil {
		return nil, fmt.Errorf("email_settings: admin_recipients: %w", err)
	}
	return s, nil
}

func validateSettings(s *emailSettings) error {
	var errs []error
	if a, err := mail.ParseAddress(s.FromEmail); err != nil || a.Address != s.FromEmail {
		errs = append(errs, fmt.Errorf("from_email %q is not a plain email address", s.FromEmail))
	}
	if strings.ContainsAny(s.FromName, "\r\n") {
		errs = append(errs, errors.New("from_name must be one line"))
	}
	if s.ReplyTo != "" {
		if a, err := mail.ParseAddress(s.ReplyTo); err != nil || a.Address != s.ReplyTo {
			errs = append(errs, fmt.Errorf("reply_to %q is not a plain email address", s.ReplyTo))
		}
	}
	for i, r := range s.AdminRecipients {
		if a, err := mail.ParseAddress(r); err != nil || a.Address != r {
			errs = append(errs, fmt.Errorf("admin_recipients[%d] %q is not a plain email address", i+1, r))
		}
	}
	if u, err := url.Parse(s.PortalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("portal_url %q is not an http(s) URL", s.PortalURL))
	}
	if s.Limit < 1 {
		errs = append(errs, errors.New("per_recipient_limit must be at least 1"))
	}
	if s.WindowSeconds < 1 {
		errs = append(errs, errors.New("per_recipient_window_seconds must be at least 1"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("email_settings: %w", errors.Join(errs...))
	}
	return nil
}

// textArray reads a text[] column: both inputs decode arrays to []any.
func textArray(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %v is not text", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected value %T", v)
}

// execer is what markApplied needs: a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
