// Package leader elects the one instance that consumes the replication slot. The
// lock is a session-level advisory lock held on a dedicated connection: when the
// holder dies, Postgres ends its session and the lock is free at once. The slot's
// own single-consumer rule backs it up (a second START_REPLICATION is refused).
//
// A holder that goes silent without dying (its network hangs, its connection is
// kept open by a middlebox) must not keep the lock: the leader pings its lock
// session every Ping, steps down when a ping goes unanswered for pingTimeout, and
// the session is opened with idle_session_timeout = Silence, so the server ends a
// silent holder's session, and frees the lock, Silence after its last ping. A
// healthy leader pings far more often than that.
package leader

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/dbconn"
	"github.com/talent-onboarding/backend/sidecar/internal/startstop"
)

// Config is what an Elector needs to know.
type Config struct {
	URL   string        // database URL for the lock connection
	Name  string        // lock name (the slot name: one leader per slot)
	Retry time.Duration // how often a follower tries again (default 1s)
	// Silence is how long the server lets the lock session idle before ending it
	// (idle_session_timeout, default 10s); the leader pings every Silence/10.
	Silence time.Duration
}

// pingTimeout bounds one ping of the lock session, and the lock attempt.
const pingTimeout = 3 * time.Second

// Elector campaigns for the lock between Start and Stop and runs the leader's work
// while it holds it.
type Elector struct {
	cfg  Config
	lead func(ctx context.Context) error
	log  *slog.Logger
	svc  startstop.Service

	leading atomic.Bool
}

// New returns a stopped elector. While this instance holds the lock it runs lead
// with a context that ends when the lock connection is lost or Stop is called.
func New(cfg Config, lead func(ctx context.Context) error, log *slog.Logger) *Elector {
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Silence <= 0 {
		cfg.Silence = 10 * time.Second
	}
	return &Elector{cfg: cfg, lead: lead, log: log.With("component", "leader")}
}

// Start campaigns until Stop, and returns at once.
func (e *Elector) Start(ctx context.Context) error {
	return e.svc.Start(ctx, "leader election", e.run)
}

// Stop ends the leader's work if it runs, releases the lock and waits. It may be
// called more than once, and before Start.
func (e *Elector) Stop() { e.svc.Stop() }

// Leading reports whether this instance holds the lock now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// run campaigns until ctx ends. While the lock is held it runs lead with a context
// that ends when the lock connection is lost, then campaigns again.
func (e *Elector) run(ctx context.Context) {
	retry, log, lead := e.cfg.Retry, e.log, e.lead
	for ctx.Err() == nil {
		held, err := e.term(ctx, log, lead)
		if err != nil && ctx.Err() == nil {
			log.Warn("leadership attempt failed", "err", err)
		}
		if held {
			continue // lost it: try again at once, another instance may not be there
		}
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// term makes one attempt; held says whether the lock was obtained.
func (e *Elector) term(ctx context.Context, log *slog.Logger, lead func(ctx context.Context) error) (bool, error) {
	cfg, err := pgx.ParseConfig(e.cfg.URL)
	if err != nil {
		return false, fmt.Errorf("parsing lock URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "talent_sidecar_leader"
	dbconn.Configure(&cfg.Config)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connecting for the leadership lock: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		conn.Close(cctx)
	}()
	settings := append(dbconn.Keepalives(), dbconn.Setting{Name: "idle_session_timeout", Value: dbconn.Millis(e.cfg.Silence)})
	if err := dbconn.Apply(ctx, conn, settings...); err != nil {
		return false, fmt.Errorf("preparing the leadership lock session: %w", err)
	}

	var got bool
	lctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err = conn.QueryRow(lctx, `select pg_try_advisory_lock(hashtextextended($1, 0))`, "talent_sidecar:"+e.cfg.Name).Scan(&got)
	cancel()
	if err != nil {
		return false, fmt.Errorf("trying the leadership lock: %w", err)
	}
	if !got {
		return false, nil
	}
	log.Info("became leader", "lock", e.cfg.Name)
	e.leading.Store(true)
	defer e.leading.Store(false)

	lctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- lead(lctx) }()

	tick := time.NewTicker(min(time.Second, e.cfg.Silence/10))
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			log.Info("leader work ended", "err", err)
			return true, err
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Warn("lost the leadership lock connection; stepping down", "err", err)
				stop()
				<-done
				return true, nil
			}
		case <-ctx.Done():
			<-done
			return true, nil
		}
	}
}
