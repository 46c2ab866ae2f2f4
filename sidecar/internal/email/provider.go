package email

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/talent-onboarding/backend/sidecar/internal/config"
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
// classified with *SendError; an unclassified error counts as temporary.
type Provider interface {
	Mail(ctx context.Context, msg *Message) (providerID string, err error)
}

// SendError classifies a provider failure.
type SendError struct {
	Permanent bool      // retrying cannot help (4xx other than 429, bad address)
	RetryAt   time.Time // provider asked not to retry before this (429 X-RateLimit-Reset)
	Err       error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// permanent wraps err as a failure that must not be retried.
func permanent(err error) error { return &SendError{Permanent: true, Err: err} }

// temporary wraps err as a failure worth retrying.
func temporary(err error) error { return &SendError{Err: err} }

// classify reports whether err is permanent and when a retry is allowed.
func classify(err error) (perm bool, retryAt time.Time) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Permanent, se.RetryAt
	}
	return false, time.Time{}
}

// NewProvider builds the provider cfg.EmailProvider names. sendTimeout bounds one
// delivery attempt (0: 30s, the outbox default).
func NewProvider(cfg *config.Config, sendTimeout time.Duration, log *slog.Logger) (Provider, error) {
	if sendTimeout <= 0 {
		sendTimeout = 30 * time.Second
	}
	switch cfg.EmailProvider {
	case "sendgrid":
		return NewSendGrid(cfg.SendGridAPIKey, cfg.SendGridBaseURL, sendTimeout, cfg.EmailConcurrency), nil
	case "smtp":
		return NewSMTP(cfg.SMTPURL, nil, sendTimeout)
	case "file":
		return NewFile(cfg.EmailFileDir)
	}
	return nil, fmt.Errorf("building email provider: unknown EMAIL_PROVIDER %q", cfg.EmailProvider)
}
