package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sethvargo/go-envconfig"

	"github.com/talent-onboarding/backend/sidecar/internal/audit"
	"github.com/talent-onboarding/backend/sidecar/internal/catchup"
	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/config"
	"github.com/talent-onboarding/backend/sidecar/internal/dbconn"
	"github.com/talent-onboarding/backend/sidecar/internal/email"
	"github.com/talent-onboarding/backend/sidecar/internal/emailsend"
	"github.com/talent-onboarding/backend/sidecar/internal/httpapi"
	"github.com/talent-onboarding/backend/sidecar/internal/leader"
	"github.com/talent-onboarding/backend/sidecar/internal/leasequeue"
	"github.com/talent-onboarding/backend/sidecar/internal/mediaguard"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
	"github.com/talent-onboarding/backend/sidecar/internal/sessioncheck"
	"github.com/talent-onboarding/backend/sidecar/internal/storagecleanup"
	"github.com/talent-onboarding/backend/sidecar/internal/webhook"
)

// serve runs the sidecar service until ctx ends (SIGTERM/SIGINT), then stops every
// part in the order that loses nothing: inputs first, the pipeline last.
func serve(ctx context.Context, stderr io.Writer) int {
	cfg, err := config.Load(ctx, envconfig.OsLookuper())
	if err != nil {
		fmt.Fprintf(stderr, "sidecar: invalid configuration:\n%v\n(run `sidecar -h` for every variable and its default)\n", err)
		return 2
	}
	log := newLogger(os.Stdout, cfg.LogLevel)
	mainLog := log.With("component", "main")
	gcDefaults(os.LookupEnv)
	defer cpuProfile(os.LookupEnv, stderr)()
	if err := run(ctx, cfg, log); err != nil {
		mainLog.Error("sidecar stopped with an error", "err", err)
		return 1
	}
	mainLog.Info("sidecar stopped")
	return 0
}

// partition is the pipeline's route. A change record goes by its key, so a talent's
// changes are applied in order by one worker; the email configuration's records are
// a barrier, so every email after one in the stream is queued with it. A streamed
// row goes by its table and id.
func partition(ev *change.Event) string {
	if ev.Notice || ev.Recorded() {
		if ev.RowKey == change.EmailConfigKey {
			return ""
		}
		return ev.RowKey
	}
	row := ev.New
	if row == nil {
		row = ev.Old
	}
	return ev.Table + ":" + row.Str("id")
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// service is what every long-running part is: Start returns at once, Stop may be
// called more than once and waits (package startstop).
type service interface {
	Start(ctx context.Context) error
	Stop()
}

// run assembles the service, each part built after what it depends on, starts it
// and, once ctx ends, stops it in the order that loses nothing: inputs first (the
// replication leader and the catch-up, then the HTTP server with its webhooks),
// then the senders, the pipeline last. Every part runs with a context that ctx's
// end does not cancel, so that work in flight during shutdown still commits; Stop
// ends each one.
func run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	mainLog := log.With("component", "main")
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("parsing DATABASE_URL: %w", err)
	}
	// Every connection, the probe's included, dials with keepalives and a connect
	// timeout (package dbconn).
	dbconn.Configure(&pcfg.ConnConfig.Config)
	// Refuse a transaction pooler before anything uses the database: never half-served.
	if err := sessioncheck.Require(ctx, pcfg.ConnConfig); err != nil {
		return err
	}
	pcfg.ConnConfig.RuntimeParams["application_name"] = "talent_sidecar"
	// One connection per pipeline worker, plus room for the outbox, webhooks and
	// health checks (pgxpool's default is the number of CPUs).
	pcfg.MaxConns = max(pcfg.MaxConns, int32(cfg.Workers+8))
	// No connection trusted forever (package dbconn): keepalives both ways, a
	// pooled connection idle for a while is pinged before use and replaced if the
	// ping goes unanswered, and a session that a vanished sidecar left inside a
	// transaction (holding its claims' locks) is ended by the server.
	pcfg.PingTimeout = poolPingTimeout
	sessionSettings := append(dbconn.Keepalives(),
		dbconn.Setting{Name: "idle_in_transaction_session_timeout", Value: dbconn.Millis(cfg.DatabaseTimeout)})
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		return dbconn.Apply(ctx, c, sessionSettings...)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("creating database pool: %w", err)
	}
	defer pool.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The email configuration is loaded before the pipeline starts, so the first
	// status change already renders with the admins' templates.
	live := email.NewLive(pool, log)
	lctx, cancel := context.WithTimeout(ctx, cfg.DatabaseTimeout)
	err = live.Load(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("loading email configuration: %w", err)
	}
	guard, err := mediaguard.NewHandler(log, reg)
	if err != nil {
		return fmt.Errorf("building media guard: %w", err)
	}
	// Deleting a talent removes their media: the handler queues a job with the delete
	// record, the cleaner performs it through the Storage API after the commit.
	cleaner := storagecleanup.New(pool, storagecleanup.Options{
		SupabaseURL: cfg.SupabaseURL, ServiceRoleKey: cfg.SupabaseServiceRoleKey,
		MaxAttempts: cfg.StorageCleanupMaxAttempts, DBTimeout: cfg.DatabaseTimeout,
	}, log, reg)
	// The queue rings the outbox of this process after a commit that queued an email.
	queued := leasequeue.NewWakeup()

	// Each pipeline worker has its own handlers, called in this order inside its
	// transaction. The audit log first: it is the product's record; later handlers
	// add to the same transaction. The configuration and the guard are shared; the
	// queue and the cleanup handler buffer per worker.
	handlers := func() []pipeline.Handler {
		return []pipeline.Handler{audit.New(), live, email.NewQueuer(live, queued.Ring, log), guard,
			storagecleanup.NewHandler(cleaner.Wake)}
	}
	pipe := pipeline.New(pipeline.Config{BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Workers: cfg.Workers,
		Timeout: cfg.DatabaseTimeout},
		pool, handlers, partition, log, reg)

	provider, err := emailsend.NewProvider(emailsend.ProviderOptions{Name: cfg.EmailProvider,
		SendGridAPIKey: cfg.SendGridAPIKey, SendGridBaseURL: cfg.SendGridBaseURL, SMTPURL: cfg.SMTPURL,
		FileDir: cfg.EmailFileDir, Conns: cfg.EmailConcurrency})
	if err != nil {
		return fmt.Errorf("building email provider: %w", err)
	}
	// The outbox yields to the pipeline while it is behind.
	outbox := emailsend.NewOutbox(pool, provider, live, pipe, queued,
		emailsend.Options{Concurrency: cfg.EmailConcurrency, MaxAttempts: cfg.EmailMaxAttempts, Poll: cfg.EmailPoll,
			DBTimeout: cfg.DatabaseTimeout, Registry: reg}, log)
	events, err := emailsend.NewEventWebhook(pool, cfg.SendGridWebhookPublicKey, cfg.DatabaseTimeout, log)
	if err != nil {
		return fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}

	slot := ""
	if cfg.Replication {
		slot = cfg.ReplicationSlot
	}
	catch := catchup.New(catchup.Config{Interval: cfg.CatchUpInterval, Retention: cfg.ChangeRetention, Slot: slot,
		Timeout: cfg.DatabaseTimeout},
		pool, pipe, log, reg)
	stream := replication.New(replication.Config{
		URL: cfg.DatabaseURL, Slot: cfg.ReplicationSlot, Publication: cfg.Publication, StandbyEvery: cfg.StandbyEvery,
		Timeout: cfg.DatabaseTimeout, SlotLost: catch.Wake, Keep: mediaguard.Touches,
	}, pool, pipe, log, reg)
	elector := leader.New(leader.Config{URL: cfg.DatabaseURL, Name: cfg.ReplicationSlot, Retry: time.Second}, stream.Run, log)

	routes := []func(*fiber.App){}
	if cfg.WebhookSecret != "" {
		routes = append(routes, webhook.New(cfg.WebhookSecret, catch, 10*time.Second, log).Mount)
	} else {
		mainLog.Warn("WEBHOOK_SECRET is empty: /webhooks/supabase is disabled")
	}
	routes = append(routes, events.Register)
	begun := time.Now()
	srv := httpapi.New(httpapi.Options{
		Addr: cfg.Addr, DB: pool, Registry: reg, Routes: routes, Log: log, ShutdownTimeout: 10 * time.Second,
		Health: func() error {
			return stalled(time.Now(), begun, cfg.StallTimeout, catch.Last(), pipe.LastCommit(),
				!cfg.Replication || elector.Leading())
		},
		Replication: func() string {
			switch {
			case !cfg.Replication:
				return "disabled"
			case !elector.Leading():
				return "standby"
			case stream.Streaming():
				return "streaming"
			}
			return "connecting"
		},
	})

	// Started first to last, stopped last to first.
	parts := []service{pipe, outbox, cleaner, srv, catch}
	if cfg.Replication {
		parts = append(parts, elector)
	}
	runCtx := context.WithoutCancel(ctx)
	var started []service
	defer func() {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
	}()
	for _, p := range parts {
		if err := p.Start(runCtx); err != nil {
			return err
		}
		started = append(started, p)
	}
	mainLog.Info("sidecar started", "addr", cfg.Addr, "replication", cfg.Replication, "slot", cfg.ReplicationSlot, "publication", cfg.Publication)

	<-ctx.Done()
	mainLog.Info("stopping")
	return nil
}

// poolPingTimeout bounds the ping a pooled connection idle for a second or more
// gets before it is handed out: a healthy one answers in milliseconds.
const poolPingTimeout = 2 * time.Second

// stalled is /healthz's verdict: an error when this process cannot make progress,
// so that restarting it is the remedy. Two signs, each against bound (STALL_TIMEOUT):
// the catch-up has not completed a look at the pending change records for longer
// than bound (it cannot reach the database, or is stuck), or a record has been
// pending longer than bound while this process, which should apply it (applies
// says so: it runs without replication, or leads it), has committed no batch for
// as long. A standby leaves the leader's records to the leader, until the catch-up's
// grace hands them to every instance, whose batches then commit.
func stalled(now, started time.Time, bound time.Duration, look *catchup.Look, lastCommit time.Time, applies bool) error {
	seen := started
	if look != nil {
		seen = look.At
	}
	if d := now.Sub(seen); d > bound {
		return fmt.Errorf("the pending change records have not been read for %s (STALL_TIMEOUT %s)", d.Round(time.Second), bound)
	}
	if look == nil || !applies || look.Oldest <= bound {
		return nil
	}
	last := lastCommit
	if last.Before(started) {
		last = started
	}
	if d := now.Sub(last); d > bound {
		return fmt.Errorf("a change record has waited %s and no batch has committed for %s (STALL_TIMEOUT %s)",
			look.Oldest.Round(time.Second), d.Round(time.Second), bound)
	}
	return nil
}

// Garbage collector defaults, used unless the environment sets GOGC or GOMEMLIMIT.
// A backlog drain allocates fast (decoded rows, encoded batch parameters) while its
// live heap stays small, and at Go's GOGC of 100 the collector took a fifth of the
// sidecar's CPU, on a machine where the sidecar and Postgres share the cores. At 300
// the sidecar used about 15% less CPU over a drain and peaked at about 170 MiB
// instead of 100. The soft limit makes the collector work harder as the heap nears
// 192 MiB, whatever the backlog: three quarters of the 256 MiB the Kubernetes
// manifest allows (deploy/RUNBOOK.md says how to change both).
const (
	defaultGOGC       = 300
	defaultGOMEMLIMIT = 192 << 20
)

func gcDefaults(lookup func(string) (string, bool)) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
	if _, set := lookup("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultGOMEMLIMIT)
	}
}
