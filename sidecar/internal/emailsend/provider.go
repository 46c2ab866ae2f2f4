package emailsend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one email as the outbox hands it to a provider.
type Message struct {
	FromEmail, FromName string
	ReplyTo             string // optional
	To                  string
	Subject             string
	HTML, Text          string
	Type                string // template name
	// IdempotencyKey identifies the email; it travels to the provider (SendGrid
	// custom_args, a Message-ID header) so repeats can be recognised downstream.
	IdempotencyKey string
}

// Provider delivers one message and returns the provider's id for it. Errors are
// classified with *sendError; an unclassified error counts as temporary.
type Provider interface {
	Mail(ctx context.Context, msg *Message) (providerID string, err error)
}

// sendError classifies a provider failure.
type sendError struct {
	Permanent bool      // retrying cannot help (4xx other than 429, bad address)
	RetryAt   time.Time // provider asked not to retry before this (429 X-RateLimit-Reset)
	Err       error
}

func (e *sendError) Error() string { return e.Err.Error() }
func (e *sendError) Unwrap() error { return e.Err }

// permanent wraps err as a failure that must not be retried.
func permanent(err error) error { return &sendError{Permanent: true, Err: err} }

// temporary wraps err as a failure worth retrying.
func temporary(err error) error { return &sendError{Err: err} }

// classify reports whether err is permanent and when a retry is allowed.
func classify(err error) (perm bool, retryAt time.Time) {
	var se *sendError
	if errors.As(err, &se) {
		return se.Permanent, se.RetryAt
	}
	return false, time.Time{}
}

// ProviderOptions chooses and sets up the provider (the EMAIL_PROVIDER, SENDGRID_*,
// SMTP_URL and EMAIL_FILE_DIR settings).
type ProviderOptions struct {
	Name            string // "sendgrid", "smtp" or "file"
	SendGridAPIKey  string
	SendGridBaseURL string // replaces https://api.sendgrid.com (proxies, tests)
	SMTPURL         string // smtp://user:pass@host:587 or smtps://…:465
	FileDir         string // where the file provider writes
	// SendTimeout bounds one delivery attempt (0: 30s, the outbox default).
	SendTimeout time.Duration
	// Conns sizes SendGrid's connection pool; give it the outbox's concurrency.
	Conns int
}

// NewProvider builds the provider opts.Name names.
func NewProvider(opts ProviderOptions) (Provider, error) {
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = defaultSendTimeout
	}
	switch opts.Name {
	case "sendgrid":
		return newSendGrid(opts.SendGridAPIKey, opts.SendGridBaseURL, opts.SendTimeout, opts.Conns), nil
	case "smtp":
		return newSMTP(opts.SMTPURL, nil, opts.SendTimeout)
	case "file":
		return newFile(opts.FileDir)
	}
	return nil, fmt.Errorf("building email provider: unknown EMAIL_PROVIDER %q", opts.Name)
}
