// Package pipeline applies the sidecar's events through its handlers in batched
// transactions. It is the one place that decides when an effect is durable:
// replication positions and waiting submitters are released only after the
// transaction holding the effect commits.
//
// Notices of change records (from replication, webhooks or the catch-up) are not
// trusted for their content: each batch's transaction first claims the records
// still pending for the notices' keys (sidecar.changes, processed_at set in the same
// transaction), in id order, and the handlers act on what the database holds. A
// record another transaction or sidecar has claimed is not seen again; one a notice
// did not mention, but older and of the same key, is claimed with it, so a key's
// records take effect in order whatever the inputs delivered.
//
// Events are spread over workers by partition (a record's key, a streamed row's
// table and id): each worker applies its events in the order they were submitted, in
// its own transactions on its own connection, so batches of different talents commit
// in parallel while one talent's changes stay in order. An event without a partition
// (the email configuration) is a barrier: it is applied after everything submitted
// before it has committed and before anything submitted after it starts. A
// replication mark is reported committed once every worker has committed everything
// submitted before it.
package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/startstop"
)

// Handler turns events into effects written in the batch's transaction. The
// pipeline calls Handle for each event its Watches matches, in order; Flush once
// before the commit (a handler may buffer rows in Handle and write them with one
// statement); Discard after a rollback; Committed after the commit. Handle must be
// deterministic in the event, and its writes idempotent on keys derived from ev.Key.
// An error rolls back this event's writes (to a savepoint) and dead-letters it.
// A handler serves one worker: the pipeline asks for a set per worker.
type Handler interface {
	Watches() change.Watch
	Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error
	Flush(ctx context.Context, tx pgx.Tx) error
	Discard()
	Committed(ctx context.Context)
}

// Outcome is what became of a submitted event.
type Outcome string

const (
	Applied      Outcome = "applied"
	DeadLettered Outcome = "dead_lettered"
)

// Result is delivered to a waiting submitter once the event's transaction commits.
type Result struct {
	Outcome Outcome // Applied: a record that failed is dead-lettered within its batch
	Err     error   // the pipeline stopped before committing it
}

type item struct {
	ev   *change.Event
	mark uint64 // non-zero: end LSN of a replication transaction, no event
	done chan Result
	// synced, when set, is signalled once everything the worker was given before
	// this item has committed (a barrier waits for it).
	synced chan<- struct{}
	// endsBatch makes the worker commit at this item instead of waiting for more:
	// set on a barrier's sync items and on the barrier event itself, for which the
	// dispatcher holds everything else back.
	endsBatch bool
}

// Config bounds batches and sets the parallelism.
type Config struct {
	BatchSize int
	BatchWait time.Duration
	// Workers is how many batches may be in flight at once (default 1).
	Workers int
	// Timeout bounds one attempt at a batch (default 10s): a connection that has
	// not answered by then is abandoned and the batch retried on another.
	Timeout time.Duration
	// OnCommitted, when set, is called with each new value of Committed, under the
	// lock that orders them (tests observe the marks with it).
	OnCommitted func(lsn uint64)
}

// Route names an event's partition: events of one partition are applied by one
// worker, in the order submitted. "" makes the event a barrier, with one worker as
// with several.
type Route func(ev *change.Event) string

// Pipeline is started once and stopped once; Submit and Mark are safe from any goroutine.
type Pipeline struct {
	cfg     Config
	pool    *pgxpool.Pool
	route   Route
	log     *slog.Logger
	queue   chan item
	workers []*worker

	markMu   sync.Mutex
	reported uint64 // highest mark every worker has committed

	lastCommit atomic.Int64 // unix nanoseconds of the last batch that committed events

	svc  startstop.Service
	done chan struct{} // closed when the dispatcher and every worker have returned

	events       *prometheus.CounterVec
	batchSize    prometheus.Histogram
	batchTime    prometheus.Histogram
	deadLetters  prometheus.Counter
	retries      prometheus.Counter
	claimRetries prometheus.Counter
}

// New builds a pipeline. handlers is called once per worker for that worker's
// handlers, which are called in order for every event; route partitions events
// (nil: one partition, no barriers, one worker).
func New(cfg Config, pool *pgxpool.Pool, handlers func() []Handler, route Route, log *slog.Logger, reg prometheus.Registerer) *Pipeline {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Workers <= 0 || route == nil {
		cfg.Workers = 1
	}
	if route == nil {
		route = func(*change.Event) string { return "all" }
	}
	p := &Pipeline{
		cfg: cfg, pool: pool, route: route, log: log.With("component", "pipeline"),
		queue: make(chan item, 4*cfg.BatchSize),
		done:  make(chan struct{}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_events_total", Help: "Row-change events by source, table and outcome.",
		}, []string{"source", "table", "outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sidecar_batch_size", Help: "Events per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sidecar_batch_seconds", Help: "Time to apply and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sidecar_dead_letters_total", Help: "Events recorded in sidecar_dead_letters.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sidecar_batch_retries_total", Help: "Batches retried after a database error.",
		}),
		claimRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sidecar_claim_retries_total", Help: "Claims tried again for noticed records not yet visible.",
		}),
	}
	if reg != nil {
		reg.MustRegister(p.events, p.batchSize, p.batchTime, p.deadLetters, p.retries, p.claimRetries)
	}
	for i := 0; i < cfg.Workers; i++ {
		p.workers = append(p.workers, &worker{p: p, id: i, queue: make(chan item, 2*cfg.BatchSize), handlers: handlers()})
	}
	return p
}

// Start runs the dispatcher and the workers until Stop, and returns at once.
func (p *Pipeline) Start(ctx context.Context) error {
	return p.svc.Start(ctx, "pipeline", p.run)
}

// run runs the dispatcher and the workers, and when they have returned answers
// whatever is still queued.
func (p *Pipeline) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1 + len(p.workers))
	go func() {
		defer wg.Done()
		p.dispatch(ctx)
	}()
	for _, w := range p.workers {
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
	p.failQueued()
	close(p.done)
}

// Stop ends the worker and waits for it. Events not yet committed are answered
// with an error (webhooks) or redelivered on the next start (replication).
// Stop may be called more than once.
func (p *Pipeline) Stop() { p.svc.Stop() }

// Submit queues ev without waiting for it (the replication input; its progress is
// read through Committed).
func (p *Pipeline) Submit(ctx context.Context, ev *change.Event) error {
	return p.enqueue(ctx, item{ev: ev})
}

// Mark queues the end of a replication transaction.
func (p *Pipeline) Mark(ctx context.Context, lsn uint64) error {
	return p.enqueue(ctx, item{mark: lsn})
}

// Send queues ev and returns the channel on which its Result arrives once the
// transaction applying it has committed (the catch-up waits on many at once).
func (p *Pipeline) Send(ctx context.Context, ev *change.Event) (<-chan Result, error) {
	done := make(chan Result, 1)
	if err := p.enqueue(ctx, item{ev: ev, done: done}); err != nil {
		return nil, err
	}
	return done, nil
}

// Apply queues ev and waits until its transaction has committed.
func (p *Pipeline) Apply(ctx context.Context, ev *change.Event) Result {
	done, err := p.Send(ctx, ev)
	if err != nil {
		return Result{Err: err}
	}
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
}

// Backlogged reports whether at least a full batch of events is waiting to be
// applied: the pipeline is catching up, not keeping up.
func (p *Pipeline) Backlogged() bool {
	n := len(p.queue)
	for _, w := range p.workers {
		n += len(w.queue)
	}
	return n >= p.cfg.BatchSize
}

var errStopped = errors.New("pipeline stopped")

func (p *Pipeline) enqueue(ctx context.Context, it item) error {
	select {
	case p.queue <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return errStopped
	}
}

// failQueued answers every waiting submitter once the dispatcher and the workers
// have stopped.
func (p *Pipeline) failQueued() {
	queues := []chan item{p.queue}
	for _, w := range p.workers {
		queues = append(queues, w.queue)
	}
	for _, q := range queues {
		for drained := false; !drained; {
			select {
			case it := <-q:
				if it.done != nil {
					it.done <- Result{Err: errStopped}
				}
			default:
				drained = true
			}
		}
	}
}
