// Package config loads and validates the sidecar's configuration from the
// environment, once, at start.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Config is every setting of the sidecar. The env tags are the contract names ops use;
// deploy/k8s must name exactly these (a test checks).
type Config struct {
	DatabaseURL     string `env:"DATABASE_URL, required" help:"Postgres connection URL: the direct connection (needs a role with REPLICATION for the replication input) or the session pooler (webhooks only, REPLICATION_ENABLED=false); never the transaction pooler (refused at start)"`
	Addr            string `env:"SIDECAR_ADDR, default=:8080" help:"HTTP listen address for webhooks, health and metrics"`
	WebhookSecret   string `env:"WEBHOOK_SECRET" help:"shared secret Supabase database webhooks send as 'Authorization: Bearer <secret>'; a comma-separated list accepts each (for rotation); empty disables /webhooks/supabase"`
	ReplicationSlot string `env:"REPLICATION_SLOT, default=talent_sidecar" help:"logical replication slot name (created when missing)"`
	Publication     string `env:"PUBLICATION, default=talent_sidecar" help:"publication of the change records (created when missing; PUBLICATION_media streams the guarded tables to the media guard)"`
	Replication     bool   `env:"REPLICATION_ENABLED, default=true" help:"consume logical replication; false leaves webhooks and the catch-up (through the session pooler, say)"`

	CatchUpInterval time.Duration `env:"CATCHUP_INTERVAL, default=5s" help:"how often pending change records are looked for when no input announced any"`
	ChangeRetention time.Duration `env:"CHANGE_RETENTION, default=72h" help:"how long processed change records (sidecar.changes) are kept before they are pruned"`

	BatchSize    int           `env:"BATCH_SIZE, default=500" help:"most events applied in one transaction"`
	BatchWait    time.Duration `env:"BATCH_WAIT, default=0s" help:"longest an event waits for more to join its batch (0: a batch is what queued while the previous one was applied)"`
	Workers      int           `env:"PIPELINE_WORKERS, default=1" help:"batches applied in parallel, each on its own connection (one talent's changes always stay in order)"`
	StandbyEvery time.Duration `env:"STANDBY_INTERVAL, default=10s" help:"how often standby status is sent to the server (each asks for a reply: a stream silent for longer than max(wal_sender_timeout/2, 3 x this) is declared dead and reconnected)"`

	DatabaseTimeout time.Duration `env:"DATABASE_TIMEOUT, default=10s" help:"longest one conversation with Postgres may take (a batch, a claim, a catch-up page, recording an email) before its connection is abandoned and the work retried on a new one; also the server's idle_in_transaction_session_timeout for the sidecar's sessions"`
	StallTimeout    time.Duration `env:"STALL_TIMEOUT, default=90s" help:"/healthz fails (so the orchestrator restarts the process) when a change record this instance should apply has waited longer than this while no batch committed, or when the pending records could not be read for this long"`

	EmailProvider            string        `env:"EMAIL_PROVIDER, default=file" help:"sendgrid | smtp | file"`
	SendGridAPIKey           string        `env:"SENDGRID_API_KEY" help:"SendGrid API key (required for EMAIL_PROVIDER=sendgrid)"`
	SendGridBaseURL          string        `env:"SENDGRID_BASE_URL, default=https://api.sendgrid.com" help:"SendGrid API base URL (override for proxies and tests)"`
	SendGridWebhookPublicKey string        `env:"SENDGRID_WEBHOOK_PUBLIC_KEY" help:"base64 ECDSA public key verifying SendGrid event webhooks; empty disables /webhooks/sendgrid"`
	SMTPURL                  string        `env:"SMTP_URL" help:"smtp://user:pass@host:587 (STARTTLS) or smtps://… (required for EMAIL_PROVIDER=smtp)"`
	EmailFileDir             string        `env:"EMAIL_FILE_DIR, default=./.local/emails" help:"directory for EMAIL_PROVIDER=file"`
	EmailConcurrency         int           `env:"EMAIL_CONCURRENCY, default=16" help:"emails sent in parallel by this instance"`
	EmailMaxAttempts         int           `env:"EMAIL_MAX_ATTEMPTS, default=8" help:"attempts before an email is marked failed"`
	EmailPoll                time.Duration `env:"EMAIL_POLL_INTERVAL, default=500ms" help:"how often the outbox is polled when idle"`

	SupabaseURL               string `env:"SUPABASE_URL" help:"project URL (https://<ref>.supabase.co; locally http://127.0.0.1:54321) whose Storage API removes a deleted talent's media; empty (with SUPABASE_SERVICE_ROLE_KEY) leaves the removals queued in sidecar.storage_deletions"`
	SupabaseServiceRoleKey    string `env:"SUPABASE_SERVICE_ROLE_KEY" help:"service role key for the Storage API (it bypasses Storage's RLS, as removing anyone's media needs); set together with SUPABASE_URL"`
	StorageCleanupMaxAttempts int    `env:"STORAGE_CLEANUP_MAX_ATTEMPTS, default=8" help:"attempts (with exponential backoff) at removing a deleted talent's media before the job is marked failed"`

	LogLevel string `env:"LOG_LEVEL, default=info" help:"debug | info | warn | error"`
}

// Var describes one environment variable of Config, read from its struct tags. It
// is the single reading of those tags: `sidecar -h`, error messages and the
// deployment manifests' test all use it.
type Var struct {
	Name, Default, Help string
	Required            bool
	Field               string // the Go field, as go-envconfig's errors name it
}

// Vars lists every variable Config reads, in struct order.
func Vars() []Var {
	var out []Var
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("env")
		if tag == "" {
			continue
		}
		parts := strings.Split(tag, ",")
		v := Var{Name: strings.TrimSpace(parts[0]), Help: f.Tag.Get("help"), Field: f.Name}
		for _, p := range parts[1:] {
			p = strings.TrimSpace(p)
			switch {
			case p == "required":
				v.Required = true
			case strings.HasPrefix(p, "default="):
				v.Default = strings.TrimPrefix(p, "default=")
			}
		}
		out = append(out, v)
	}
	return out
}

// envNames rewrites go-envconfig's messages, which name Go fields ("BatchSize:
// strconv.ParseInt …"), to name the variable an operator sets.
func envNames(msg string) string {
	for _, v := range Vars() {
		if rest, ok := strings.CutPrefix(msg, v.Field+":"); ok {
			return v.Name + ":" + rest
		}
	}
	return msg
}

var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// SlotRule and PublicationRule say what a replication slot's and a publication's
// names may be; ValidSlot and ValidPublication check them (the doctor's flags too).
const (
	SlotRule        = "1-63 characters of a-z, 0-9 and _"
	PublicationRule = "1-57 characters of a-z, 0-9 and _ (the media publication adds _media)"
)

// ValidSlot reports whether name may name the replication slot.
func ValidSlot(name string) bool { return slotName.MatchString(name) }

// ValidPublication reports whether name may name the publication: a slot name short
// enough that name + "_media" is one too.
func ValidPublication(name string) bool { return slotName.MatchString(name) && len(name) <= 57 }

// Load reads the environment through lookuper (envconfig.OsLookuper() in main) and
// validates the result.
func Load(ctx context.Context, l envconfig.Lookuper) (*Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return nil, fmt.Errorf("reading environment: %s", envNames(err.Error()))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate reports every invalid setting at once, each naming its variable.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", "must be a postgres:// or postgresql:// URL")
	}
	if c.Addr == "" || !strings.Contains(c.Addr, ":") {
		bad("SIDECAR_ADDR", "must be host:port or :port, got %q", c.Addr)
	}
	if c.WebhookSecret != "" {
		for i, s := range strings.Split(c.WebhookSecret, ",") {
			if len(strings.TrimSpace(s)) < 16 {
				bad("WEBHOOK_SECRET", "entry %d must be at least 16 characters (or the variable empty to disable webhooks)", i+1)
			}
		}
	}
	if !ValidSlot(c.ReplicationSlot) {
		bad("REPLICATION_SLOT", "must be %s, got %q", SlotRule, c.ReplicationSlot)
	}
	if !ValidPublication(c.Publication) {
		bad("PUBLICATION", "must be %s, got %q", PublicationRule, c.Publication)
	}
	if c.CatchUpInterval < 100*time.Millisecond || c.CatchUpInterval > time.Hour {
		bad("CATCHUP_INTERVAL", "must be between 100ms and 1h, got %s", c.CatchUpInterval)
	}
	if c.ChangeRetention < time.Minute || c.ChangeRetention > 90*24*time.Hour {
		bad("CHANGE_RETENTION", "must be between 1m and 2160h (90 days), got %s", c.ChangeRetention)
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		bad("BATCH_SIZE", "must be between 1 and 10000, got %d", c.BatchSize)
	}
	if c.Workers < 1 || c.Workers > 64 {
		bad("PIPELINE_WORKERS", "must be between 1 and 64, got %d", c.Workers)
	}
	if c.BatchWait < 0 || c.BatchWait > 10*time.Second {
		bad("BATCH_WAIT", "must be between 0 and 10s, got %s", c.BatchWait)
	}
	if c.StandbyEvery < time.Second || c.StandbyEvery > 5*time.Minute {
		bad("STANDBY_INTERVAL", "must be between 1s and 5m, got %s", c.StandbyEvery)
	}
	if c.DatabaseTimeout < time.Second || c.DatabaseTimeout > 5*time.Minute {
		bad("DATABASE_TIMEOUT", "must be between 1s and 5m, got %s", c.DatabaseTimeout)
	}
	if c.StallTimeout < 5*time.Second || c.StallTimeout > time.Hour {
		bad("STALL_TIMEOUT", "must be between 5s and 1h, got %s", c.StallTimeout)
	} else if c.StallTimeout <= 2*c.DatabaseTimeout {
		bad("STALL_TIMEOUT", "must be more than twice DATABASE_TIMEOUT (%s), so a retried batch is not taken for a stall, got %s", c.DatabaseTimeout, c.StallTimeout)
	}
	switch c.EmailProvider {
	case "sendgrid":
		if c.SendGridAPIKey == "" {
			bad("SENDGRID_API_KEY", "is required when EMAIL_PROVIDER=sendgrid")
		}
	case "smtp":
		u, err := url.Parse(c.SMTPURL)
		if c.SMTPURL == "" || err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			bad("SMTP_URL", "must be smtp://[user:pass@]host:port or smtps://… when EMAIL_PROVIDER=smtp")
		}
	case "file":
		if c.EmailFileDir == "" {
			bad("EMAIL_FILE_DIR", "is required when EMAIL_PROVIDER=file")
		}
	default:
		bad("EMAIL_PROVIDER", "must be sendgrid, smtp or file, got %q", c.EmailProvider)
	}
	if u, err := url.Parse(c.SendGridBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SENDGRID_BASE_URL", "must be an http(s) URL, got %q", c.SendGridBaseURL)
	}
	if c.EmailConcurrency < 1 || c.EmailConcurrency > 256 {
		bad("EMAIL_CONCURRENCY", "must be between 1 and 256, got %d", c.EmailConcurrency)
	}
	if c.EmailMaxAttempts < 1 || c.EmailMaxAttempts > 50 {
		bad("EMAIL_MAX_ATTEMPTS", "must be between 1 and 50, got %d", c.EmailMaxAttempts)
	}
	if c.EmailPoll < 10*time.Millisecond || c.EmailPoll > time.Minute {
		bad("EMAIL_POLL_INTERVAL", "must be between 10ms and 1m, got %s", c.EmailPoll)
	}
	switch {
	case c.SupabaseURL == "" && c.SupabaseServiceRoleKey != "":
		bad("SUPABASE_URL", "is required when SUPABASE_SERVICE_ROLE_KEY is set")
	case c.SupabaseURL != "":
		if u, err := url.Parse(c.SupabaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("SUPABASE_URL", "must be an http(s) URL such as https://<ref>.supabase.co, got %q", c.SupabaseURL)
		}
		if c.SupabaseServiceRoleKey == "" {
			bad("SUPABASE_SERVICE_ROLE_KEY", "is required when SUPABASE_URL is set")
		}
	}
	if c.StorageCleanupMaxAttempts < 1 || c.StorageCleanupMaxAttempts > 50 {
		bad("STORAGE_CLEANUP_MAX_ATTEMPTS", "must be between 1 and 50, got %d", c.StorageCleanupMaxAttempts)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	return errors.Join(errs...)
}
