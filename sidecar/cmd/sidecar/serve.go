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
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sethvargo/go-envconfig"

	"github.com/talent-onboarding/backend/sidecar/internal/audit"
	"github.com/talent-onboarding/backend/sidecar/internal/catchup"
	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/config"
	"github.com/talent-onboarding/backend/sidecar/internal/httpapi"
	"github.com/talent-onboarding/backend/sidecar/internal/leader"
	"github.com/talent-onboarding/backend/sidecar/internal/mediaguard"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
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
		if ev.RowKey == emailConfigKey {
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

// emailConfigKey is the row_key the database gives every change to the email
// configuration (migration 20261202000100).
const emailConfigKey = "email_config"

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	mainLog := log.With("component", "main")
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("parsing DATABASE_URL: %w", err)
	}
	pcfg.ConnConfig.RuntimeParams["application_name"] = "talent_sidecar"
	// One connection per pipeline worker, plus room for the outbox, webhooks and
	// health checks (pgxpool's default is the number of CPUs).
	pcfg.MaxConns = max(pcfg.MaxConns, int32(cfg.Workers+8))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("creating database pool: %w", err)
	}
	defer pool.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The outbox starts after the pipeline is built and asks it whether it is behind.
	var pipe *pipeline.Pipeline
	extra, err := extraComponents(ctx, cfg, pool, reg, log, func() bool { return pipe.Backlogged() })
	if err != nil {
		return fmt.Errorf("building components: %w", err)
	}
	// Each pipeline worker has its own handlers. The audit log first: it is the
	// product's record; later handlers add to the same transaction.
	handlers := func() []pipeline.Handler {
		return append([]pipeline.Handler{audit.New()}, extra.Handlers()...)
	}

	// The pipeline outlives the root context so that work in flight during
	// shutdown still commits; it is stopped explicitly, last.
	pipe = pipeline.New(pipeline.Config{BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Workers: cfg.Workers},
		pool, handlers, partition, log, reg)
	slot := ""
	if cfg.Replication {
		slot = cfg.ReplicationSlot
	}
	catch := catchup.New(catchup.Config{Interval: cfg.CatchUpInterval, Retention: cfg.ChangeRetention, Slot: slot},
		pool, pipe, log, reg)
	stream := replication.New(replication.Config{
		URL: cfg.DatabaseURL, Slot: cfg.ReplicationSlot, Publication: cfg.Publication, StandbyEvery: cfg.StandbyEvery,
		SlotLost: catch.Wake, Keep: mediaguard.Touches,
	}, pool, pipe, log, reg)
	elector := &leader.Elector{URL: cfg.DatabaseURL, Name: cfg.ReplicationSlot, Retry: time.Second, Log: log}

	routes := []func(*fiber.App){}
	if cfg.WebhookSecret != "" {
		routes = append(routes, webhook.New(cfg.WebhookSecret, catch, 10*time.Second, log).Mount)
	} else {
		mainLog.Warn("WEBHOOK_SECRET is empty: /webhooks/supabase is disabled")
	}
	routes = append(routes, extra.Routes...)
	srv := httpapi.New(httpapi.Options{
		Addr: cfg.Addr, DB: pool, Registry: reg, Routes: routes, Log: log,
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

	pipe.Start(context.WithoutCancel(ctx))
	defer pipe.Stop()
	if err := srv.Start(); err != nil {
		return err
	}
	if extra.Start != nil {
		if err := extra.Start(ctx); err != nil {
			return fmt.Errorf("starting components: %w", err)
		}
	}
	catchDone := make(chan struct{})
	go func() {
		defer close(catchDone)
		catch.Run(ctx)
	}()
	leaderDone := make(chan struct{})
	if cfg.Replication {
		go func() {
			defer close(leaderDone)
			elector.Run(ctx, stream.Run)
		}()
	} else {
		close(leaderDone)
	}
	mainLog.Info("sidecar started", "addr", cfg.Addr, "replication", cfg.Replication, "slot", cfg.ReplicationSlot, "publication", cfg.Publication)

	<-ctx.Done()
	mainLog.Info("stopping")
	<-leaderDone
	<-catchDone
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Stop(sctx)
	if extra.Stop != nil {
		extra.Stop()
	}
	pipe.Stop()
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
