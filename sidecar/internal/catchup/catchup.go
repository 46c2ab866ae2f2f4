// Package catchup reads the change records still pending in the database
// (sidecar.changes) and hands them to the pipeline: on start, at a steady interval,
// whenever a webhook delivery or a lost replication slot says there may be new ones,
// and after an outage. It is what makes an input a matter of latency only: a lost
// webhook, a dropped slot or a stopped sidecar leaves records pending, and the next
// pass applies them. It also prunes processed records after their retention.
package catchup

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/startstop"
)

// Sender is the pipeline: it applies a notice and answers once its batch commits.
type Sender interface {
	Send(ctx context.Context, ev *change.Event) (<-chan pipeline.Result, error)
}

// Config sets the pace.
type Config struct {
	Interval  time.Duration // between passes when nothing asks for one
	Retention time.Duration // processed records older than this are deleted
	// Slot is the replication slot whose reader delivers new records (empty with
	// replication off); records it will deliver are left to it (see pendingSQL).
	Slot string
	// Grace: a record pending longer than this is caught up even if the slot should
	// deliver it (its reader may be stuck, or not running).
	Grace time.Duration
	Page  int // records per page (default 1000)
	// Timeout bounds each of a pass's own statements (default 10s); the pipeline
	// bounds the batches that apply what a pass found.
	Timeout time.Duration
}

// CatchUp runs passes between Start and Stop. Now and Wake are safe from any
// goroutine.
type CatchUp struct {
	cfg  Config
	pool *pgxpool.Pool
	pipe Sender
	log  *slog.Logger

	svc     startstop.Service
	poke    chan struct{}
	mu      sync.Mutex
	waiters []chan struct{} // Now's callers, answered by the next pass

	look atomic.Pointer[Look] // what the last completed pass saw

	passes, records, pruned prometheus.Counter
	failures                prometheus.Counter
	pending, oldest         prometheus.Gauge
}

// New builds a catch-up; reg may be nil.
func New(cfg Config, pool *pgxpool.Pool, pipe Sender, log *slog.Logger, reg prometheus.Registerer) *CatchUp {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Page <= 0 {
		cfg.Page = 1000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Minute
	}
	c := &CatchUp{cfg: cfg, pool: pool, pipe: pipe, log: log.With("component", "catchup"),
		poke: make(chan struct{}, 1),
		passes: prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_catchup_passes_total",
			Help: "Completed passes over the pending change records."}),
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_catchup_records_total",
			Help: "Pending change records a catch-up pass handed to the pipeline."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_catchup_failures_total",
			Help: "Catch-up passes that failed (the next one retries)."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_changes_pruned_total",
			Help: "Processed change records deleted after CHANGE_RETENTION."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sidecar_changes_pending",
			Help: "Change records not yet processed, at the last pass."}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sidecar_changes_oldest_pending_seconds",
			Help: "Age of the oldest change record not yet processed, at the last pass (0: none)."}),
	}
	if reg != nil {
		reg.MustRegister(c.passes, c.records, c.failures, c.pruned, c.pending, c.oldest)
	}
	return c
}

// Look is what a completed pass saw of the pending records.
type Look struct {
	At     time.Time     // when the pass completed
	Oldest time.Duration // age of the oldest pending record then (0: none)
}

// Last returns what the last completed pass saw (nil: none yet).
func (c *CatchUp) Last() *Look { return c.look.Load() }

// Now asks for a pass on behalf of a webhook delivery (the records it applies are
// logged as brought by the webhook input). The channel is closed once a pass that
// started after this call has committed everything it found.
func (c *CatchUp) Now() <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	c.Wake()
	return ch
}

// Wake asks for a pass without waiting for it (a lost slot, say).
func (c *CatchUp) Wake() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// Start makes a pass at once, then whenever asked and at every interval, until
// Stop. A failed pass is retried at the next one. It returns at once.
func (c *CatchUp) Start(ctx context.Context) error {
	return c.svc.Start(ctx, "catch-up", c.run)
}

// Stop ends the passes and waits for the one in progress. It may be called more
// than once, and before Start.
func (c *CatchUp) Stop() { c.svc.Stop() }

func (c *CatchUp) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastPrune time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.poke:
		case <-timer.C:
		}
		c.mu.Lock()
		waiters := c.waiters
		c.waiters = nil
		c.mu.Unlock()

		source := change.SourceCatchUp
		if len(waiters) > 0 {
			source = change.SourceWebhook
		}
		err := c.pass(ctx, source)
		if err == nil {
			for _, w := range waiters {
				close(w)
			}
		} else {
			if ctx.Err() != nil {
				return
			}
			c.failures.Inc()
			c.log.Warn("catch-up pass failed; retrying at the next", "err", err, "in", c.cfg.Interval)
			c.mu.Lock()
			c.waiters = append(waiters, c.waiters...)
			c.mu.Unlock()
		}
		if c.cfg.Retention > 0 && time.Since(lastPrune) >= min(time.Minute, c.cfg.Retention) {
			if err := c.prune(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("pruning processed change records failed", "err", err)
			} else {
				lastPrune = time.Now()
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(c.cfg.Interval)
	}
}

// pendingSQL pages through the pending records in id order. A record the slot will
// deliver (written at or after its confirmed position) is left to the slot's reader
// unless it has waited longer than the grace: the reader claims it soon, and
// handing it over twice costs a claim that finds nothing for every record (a
// backlog drained by both would cost twice). Everything else is caught up here:
// records the stream cannot deliver (written before the slot was made, or made
// anew), and every record when there is no slot (webhooks only).
const pendingSQL = `
select c.id, c.row_key
  from sidecar.changes c
 where c.processed_at is null and c.id > $1
   and (c.lsn < coalesce((select s.confirmed_flush_lsn from pg_replication_slots s
                           where s.slot_name = $2 and s.database = current_database()),
                         'FFFFFFFF/FFFFFFFF'::pg_lsn)
        or c.created_at < now() - make_interval(secs => $3))
 order by c.id
 limit $4`

// Pass hands every pending record to the pipeline, a page at a time, and waits
// for each page to commit.
func (c *CatchUp) pass(ctx context.Context, source change.Source) error {
	var after int64
	for {
		var id int64
		var key string
		var page []*change.Event
		qctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		rows, err := c.pool.Query(qctx, pendingSQL, after, c.cfg.Slot, c.cfg.Grace.Seconds(), c.cfg.Page)
		if err == nil {
			_, err = pgx.ForEachRow(rows, []any{&id, &key}, func() error {
				page = append(page, &change.Event{Source: source, Schema: change.Records.Schema,
					Table: change.Records.Name, Op: change.Insert, Notice: true, ID: id, RowKey: key})
				return nil
			})
		}
		cancel()
		if err != nil {
			return fmt.Errorf("reading pending change records: %w", err)
		}
		if len(page) > 0 {
			if err := c.apply(ctx, page); err != nil {
				return err
			}
			c.records.Add(float64(len(page)))
			c.log.Info("caught up on pending change records", "records", len(page), "first", page[0].ID, "last", id)
			after = id
		}
		if len(page) < c.cfg.Page {
			break
		}
	}
	var n int64
	var age float64
	qctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	err := c.pool.QueryRow(qctx, `select count(*), coalesce(extract(epoch from now() - min(created_at)), 0)
		from sidecar.changes where processed_at is null`).Scan(&n, &age)
	if err != nil {
		return fmt.Errorf("counting pending change records: %w", err)
	}
	c.pending.Set(float64(n))
	c.oldest.Set(age)
	c.look.Store(&Look{At: time.Now(), Oldest: time.Duration(age * float64(time.Second))})
	c.passes.Inc()
	return nil
}

func (c *CatchUp) apply(ctx context.Context, page []*change.Event) error {
	waits := make([]<-chan pipeline.Result, 0, len(page))
	for _, ev := range page {
		ch, err := c.pipe.Send(ctx, ev)
		if err != nil {
			return fmt.Errorf("handing change record %d to the pipeline: %w", ev.ID, err)
		}
		waits = append(waits, ch)
	}
	for _, ch := range waits {
		select {
		case r := <-ch:
			if r.Err != nil {
				return fmt.Errorf("applying caught-up change records: %w", r.Err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// pruneSQL deletes a slice of processed records past their retention; the BRIN
// index on created_at finds them without reading the recent part of the table.
const pruneSQL = `
delete from sidecar.changes c
 using (select id from sidecar.changes
         where created_at < now() - make_interval(secs => $1) and processed_at is not null
         limit 5000) d
 where c.id = d.id`

func (c *CatchUp) prune(ctx context.Context) error {
	for {
		qctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		tag, err := c.pool.Exec(qctx, pruneSQL, c.cfg.Retention.Seconds())
		cancel()
		if err != nil {
			return fmt.Errorf("pruning processed change records: %w", err)
		}
		c.pruned.Add(float64(tag.RowsAffected()))
		if tag.RowsAffected() < 5000 {
			return nil
		}
	}
}
