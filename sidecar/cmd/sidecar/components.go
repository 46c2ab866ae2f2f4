package main

import (
	"context"
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/config"
)

// components are the parts serve wires beside the core (replication, pipeline,
// audit, webhooks): the email and media-guard handlers, the email outbox sender and
// its routes.
type components struct {
	// Handlers run after the audit handler, in order, inside the pipeline's
	// transaction. A handler may implement change.Committer and pipeline.Batcher.
	Handlers []change.Handler
	// Routes are mounted on the HTTP app (for example POST /webhooks/sendgrid).
	Routes []func(app *fiber.App)
	// Start runs background work (the outbox sender) until ctx ends; Stop waits for
	// it. Both may be nil.
	Start func(ctx context.Context) error
	Stop  func()
}

// extraComponents builds the email and media-guard parts.
//
// LEAD: wire here, for example:
//
//	mailer := email.New(cfg, pool, reg, log)          // handler + outbox + /webhooks/sendgrid
//	guard := mediaguard.NewHandler(pool, reg, log)
//	return components{
//		Handlers: []change.Handler{mailer.Handler(), guard},
//		Routes:   []func(*fiber.App){mailer.Mount},
//		Start:    mailer.Start, Stop: mailer.Stop,
//	}, nil
func extraComponents(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, reg *prometheus.Registry, log *slog.Logger) (components, error) {
	return components{}, nil
}
