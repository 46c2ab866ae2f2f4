package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/config"
	"github.com/talent-onboarding/backend/sidecar/internal/email"
	"github.com/talent-onboarding/backend/sidecar/internal/emailsend"
	"github.com/talent-onboarding/backend/sidecar/internal/mediaguard"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/storagecleanup"
)

// components are the parts serve wires beside the core (replication, pipeline,
// audit, webhooks): the email, media-guard and storage-cleanup handlers, the email
// outbox sender and its routes, and the storage cleaner.
type components struct {
	// Handlers returns, for one pipeline worker, the handlers that run after the
	// audit handler, in order, inside the worker's transaction.
	Handlers func() []pipeline.Handler
	// Routes are mounted on the HTTP app (for example POST /webhooks/sendgrid).
	Routes []func(app *fiber.App)
	// Start runs background work (the outbox sender) until ctx ends; Stop waits for
	// it. Both may be nil.
	Start func(ctx context.Context) error
	Stop  func()
}

// extraComponents builds the email and media-guard parts. The email configuration is
// loaded before the pipeline starts so the first status change already renders with
// the admins' templates.
//
// behind reports whether the change pipeline is catching up with a backlog; the
// outbox then yields to it.
func extraComponents(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, reg *prometheus.Registry, log *slog.Logger, behind func() bool) (components, error) {
	live := email.NewLive(pool, log)
	if err := live.Load(ctx); err != nil {
		return components{}, fmt.Errorf("loading email configuration: %w", err)
	}

	provider, err := emailsend.NewProvider(emailsend.ProviderOptions{Name: cfg.EmailProvider,
		SendGridAPIKey: cfg.SendGridAPIKey, SendGridBaseURL: cfg.SendGridBaseURL, SMTPURL: cfg.SMTPURL,
		FileDir: cfg.EmailFileDir, Conns: cfg.EmailConcurrency})
	if err != nil {
		return components{}, fmt.Errorf("building email provider: %w", err)
	}
	wake := emailsend.NewWakeup()
	outbox := emailsend.NewOutbox(pool, provider, live, behindFunc(behind), wake,
		emailsend.Options{Concurrency: cfg.EmailConcurrency, MaxAttempts: cfg.EmailMaxAttempts, Poll: cfg.EmailPoll}, log)

	events, err := emailsend.NewEventWebhook(pool, cfg.SendGridWebhookPublicKey, log)
	if err != nil {
		return components{}, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}

	guard, err := mediaguard.NewHandler(log, reg)
	if err != nil {
		return components{}, fmt.Errorf("building media guard: %w", err)
	}

	// Deleting a talent removes their media: the handler queues a job with the delete
	// record, the cleaner performs it through the Storage API after the commit.
	cleaner := storagecleanup.New(pool, storagecleanup.Options{
		SupabaseURL: cfg.SupabaseURL, ServiceRoleKey: cfg.SupabaseServiceRoleKey,
		MaxAttempts: cfg.StorageCleanupMaxAttempts,
	}, log, reg)

	// The configuration and the guard are shared; the queuer and the cleanup handler
	// buffer per worker.
	return components{
		Handlers: func() []pipeline.Handler {
			return []pipeline.Handler{live, email.NewQueuer(live, wake.Ring, log), guard, storagecleanup.NewHandler(cleaner.Wake)}
		},
		Routes: []func(*fiber.App){events.Register},
		Start: func(ctx context.Context) error {
			if err := outbox.Start(ctx); err != nil {
				return err
			}
			return cleaner.Start(ctx)
		},
		Stop: func() {
			cleaner.Stop()
			outbox.Stop()
		},
	}, nil
}

type behindFunc func() bool

func (f behindFunc) Backlogged() bool { return f() }
