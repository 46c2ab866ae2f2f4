package storagecleanup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/leasequeue"
	"github.com/talent-onboarding/backend/sidecar/internal/retry"
	"github.com/talent-onboarding/backend/sidecar/internal/startstop"
)

// Options tunes the cleaner. Zero values take the defaults noted.
type Options struct {
	// SupabaseURL and ServiceRoleKey reach the Storage API. When either is empty the
	// cleaner does not run: jobs stay queued (nothing is lost) and Start logs a
	// warning, so an instance without Storage access still applies every other effect.
	SupabaseURL, ServiceRoleKey string
	MaxAttempts                 int           // attempts before failed (STORAGE_CLEANUP_MAX_ATTEMPTS; 8)
	Concurrency                 int           // jobs in flight (4)
	Poll                        time.Duration // idle poll interval, which is also when retries are found (1s)
	JobTimeout                  time.Duration // one attempt's limit, every bucket included (2m)
	RequestTimeout              time.Duration // one Storage request's limit (30s)
	// Lease is how long a claimed job is hidden from other cleaners; it must outlast
	// JobTimeout, or a second cleaner would run the same job at once (harmless, but
	// wasted). Default JobTimeout + 30s.
	Lease       time.Duration
	BackoffBase time.Duration // first retry delay (1s), doubled per attempt, with jitter
	BackoffMax  time.Duration // longest retry delay (15m)
}

func (o *Options) defaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 2 * time.Minute
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Lease <= o.JobTimeout {
		o.Lease = o.JobTimeout + 30*time.Second
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 15 * time.Minute
	}
}

// Cleaner performs queued sidecar.storage_deletions jobs. Every instance may run
// one: jobs are claimed with FOR UPDATE SKIP LOCKED in a short transaction that also
// counts the attempt and pushes next_attempt_at forward by the lease, the objects
// are removed outside any transaction, and the outcome is recorded afterwards.
type Cleaner struct {
	pool    *pgxpool.Pool
	storage Storage
	opts    Options
	log     *slog.Logger

	svc  startstop.Service
	wake *leasequeue.Wakeup

	outcomes *prometheus.CounterVec
	removed  prometheus.Counter
	attempts atomic.Int64 // attempts made by this cleaner (tests read it)
}

// New returns a stopped cleaner; reg (may be nil) receives its metrics.
func New(pool *pgxpool.Pool, opts Options, log *slog.Logger, reg prometheus.Registerer) *Cleaner {
	opts.defaults()
	c := &Cleaner{pool: pool, opts: opts, log: log.With("component", "storage.cleanup"),
		storage: Storage{URL: opts.SupabaseURL, Key: opts.ServiceRoleKey, Timeout: opts.RequestTimeout},
		wake:    leasequeue.NewWakeup(),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_storage_cleanup_attempts_total", Help: "Attempts to remove a deleted talent's media, by outcome (done, retry, failed).",
		}, []string{"outcome"}),
		removed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sidecar_storage_objects_removed_total", Help: "Storage objects removed for deleted talents.",
		}),
	}
	for _, outcome := range []string{"done", "retry", "failed"} {
		c.outcomes.WithLabelValues(outcome) // exported from the start: increase() then sees the first failure
	}
	if reg != nil {
		reg.MustRegister(c.outcomes, c.removed)
	}
	return c
}

// Configured reports whether the cleaner has what it needs to reach Storage.
func (c *Cleaner) Configured() bool {
	return c.opts.SupabaseURL != "" && c.opts.ServiceRoleKey != ""
}

// Start runs the cleaner until Stop, and returns at once. Without Storage
// credentials it only warns: the jobs wait in the table for an instance that has them.
func (c *Cleaner) Start(ctx context.Context) error {
	if !c.Configured() {
		c.log.Warn("SUPABASE_URL or SUPABASE_SERVICE_ROLE_KEY is empty: deleted talents' media are not removed from Storage; their jobs stay queued in sidecar.storage_deletions until a sidecar with both runs")
		return c.svc.Start(ctx, "storage cleaner")
	}
	return c.svc.Start(ctx, "storage cleaner", c.run)
}

// Stop stops claiming, waits for jobs in flight to finish and be recorded, and
// returns. It may be called more than once, and before Start.
func (c *Cleaner) Stop() { c.svc.Stop() }

// Wake makes the cleaner look for due jobs now (the handler calls it after a
// transaction that queued one commits).
func (c *Cleaner) Wake() { c.wake.Ring() }

// Attempts is how many attempts this cleaner has made.
func (c *Cleaner) Attempts() int64 { return c.attempts.Load() }

type job struct {
	id        int64
	userID    string
	deletedAt time.Time
	attempts  int
}

// run claims and performs due jobs until ctx ends. Attempts and their records
// outlive ctx: Stop waits for them rather than abandoning objects half removed and
// unrecorded (the lease would bring the job back, but later than need be).
func (c *Cleaner) run(ctx context.Context) {
	loop := leasequeue.Loop[job]{
		Concurrency: c.opts.Concurrency, Poll: c.opts.Poll, Wake: c.wake,
		Claim: c.claim, Work: c.perform, Log: c.log, Noun: "storage cleanups",
	}
	loop.Run(ctx)
}

// claim leases up to n due jobs.
func (c *Cleaner) claim(ctx context.Context, n int) ([]job, error) {
	rows, err := c.pool.Query(ctx, leasequeue.ClaimSQL("sidecar.storage_deletions",
		`q.id, q.user_id::text, q.deleted_at, q.attempts`), n, c.opts.Lease)
	if err != nil {
		return nil, fmt.Errorf("claiming storage cleanups: %w", err)
	}
	defer rows.Close()
	var out []job
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.id, &j.userID, &j.deletedAt, &j.attempts); err != nil {
			return nil, fmt.Errorf("claiming storage cleanups: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// perform makes one attempt at a job and records its outcome.
func (c *Cleaner) perform(ctx context.Context, j job) {
	c.attempts.Add(1)
	actx, cancel := context.WithTimeout(ctx, c.opts.JobTimeout)
	removed, err := c.empty(actx, j)
	if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", c.opts.JobTimeout, err)
	}
	cancel()
	c.removed.Add(float64(removed))
	c.record(ctx, j, removed, err)
}

// empty removes every object under the user's folder in each bucket, and returns how
// many it removed. Objects created after the talent was deleted are left: the same
// user may have started a new profile, and those are its media. It goes on to the
// next bucket after a temporary error, so one bucket's trouble does not hold back
// the others; the first error is returned and the job is retried.
func (c *Cleaner) empty(ctx context.Context, j job) (int, error) {
	folder := j.userID + "/"
	var removed int
	var errs []error
	for _, bucket := range Buckets {
		objs, err := c.storage.List(ctx, bucket, folder)
		if err != nil {
			errs = append(errs, err)
			if !temporary(err) || ctx.Err() != nil {
				break
			}
			continue
		}
		var paths []string
		for _, o := range objs {
			if o.CreatedAt.IsZero() || !o.CreatedAt.After(j.deletedAt) {
				paths = append(paths, o.Path)
			}
		}
		if len(paths) == 0 {
			continue
		}
		n, err := c.storage.Remove(ctx, bucket, paths)
		removed += n
		if err != nil {
			errs = append(errs, err)
			if !temporary(err) || ctx.Err() != nil {
				break
			}
		}
	}
	return removed, errors.Join(errs...)
}

// record writes the outcome: done; or, after an error, queued again after a backoff
// while attempts remain and the error is temporary, failed otherwise. Objects removed
// are added to the job's count either way.
func (c *Cleaner) record(ctx context.Context, j job, removed int, opErr error) {
	var err error
	switch {
	case opErr == nil:
		c.outcomes.WithLabelValues("done").Inc()
		c.log.Info("deleted talent's media removed", "job", j.id, "user_id", j.userID, "objects", removed, "attempts", j.attempts)
		_, err = c.pool.Exec(ctx, `update sidecar.storage_deletions
			set status = 'done', objects_deleted = objects_deleted + $2, last_error = null,
			    finished_at = now(), updated_at = now()
			where id = $1 and status = 'queued'`, j.id, removed)
	default:
		msg := opErr.Error()
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		if !temporary(opErr) || j.attempts >= c.opts.MaxAttempts {
			if temporary(opErr) {
				msg = fmt.Sprintf("gave up after %d attempts: %s", j.attempts, msg)
			}
			c.outcomes.WithLabelValues("failed").Inc()
			c.log.Warn("removing deleted talent's media failed; recorded for an operator (deploy/RUNBOOK.md)",
				"job", j.id, "user_id", j.userID, "attempts", j.attempts, "error", msg)
			_, err = c.pool.Exec(ctx, `update sidecar.storage_deletions
				set status = 'failed', objects_deleted = objects_deleted + $2, last_error = $3,
				    finished_at = now(), updated_at = now()
				where id = $1 and status = 'queued'`, j.id, removed, msg)
		} else {
			delay := retry.Backoff{Base: c.opts.BackoffBase, Max: c.opts.BackoffMax}.Delay(j.attempts)
			c.outcomes.WithLabelValues("retry").Inc()
			c.log.Info("removing deleted talent's media will be retried", "job", j.id, "attempts", j.attempts, "in", delay.String(), "error", msg)
			_, err = c.pool.Exec(ctx, `update sidecar.storage_deletions
				set objects_deleted = objects_deleted + $2, last_error = $3,
				    next_attempt_at = now() + $4::interval, updated_at = now()
				where id = $1 and status = 'queued'`, j.id, removed, msg, delay)
		}
	}
	if err != nil {
		// The lease expires and the job is claimed again; the retry lists again.
		c.log.Error("recording storage cleanup outcome", "job", j.id, "error", err)
	}
}
