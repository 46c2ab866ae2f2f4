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
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
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

// worker applies the events of its partitions in batches, with its own handlers
// (a handler may buffer rows per worker until Flush).
type worker struct {
	p        *Pipeline
	id       int
	queue    chan item
	handlers []Handler
	mark     uint64 // highest mark this worker has committed; guarded by p.markMu
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

// dispatch hands each submitted item to its worker: an event to the worker of its
// partition, a mark to every worker, a barrier event to the first worker once every
// worker has committed what it was given before.
func (p *Pipeline) dispatch(ctx context.Context) {
	n := uint32(len(p.workers))
	for {
		var it item
		select {
		case <-ctx.Done():
			return
		case it = <-p.queue:
		}
		ok := true
		switch {
		case it.ev == nil:
			for _, w := range p.workers {
				ok = ok && w.give(ctx, it)
			}
		default:
			if key := p.route(it.ev); key == "" {
				ok = p.barrier(ctx, it)
			} else {
				h := fnv.New32a()
				h.Write([]byte(key))
				ok = p.workers[h.Sum32()%n].give(ctx, it)
			}
		}
		if !ok {
			if it.done != nil {
				it.done <- Result{Err: errStopped}
			}
			return
		}
	}
}

// barrier waits until every worker has committed what it was given, then has the
// first worker apply it.ev alone and waits for that commit too.
func (p *Pipeline) barrier(ctx context.Context, it item) bool {
	synced := make(chan struct{}, len(p.workers))
	for _, w := range p.workers {
		if !w.give(ctx, item{synced: synced, endsBatch: true}) {
			return false
		}
	}
	for range p.workers {
		select {
		case <-synced:
		case <-ctx.Done():
			return false
		}
	}
	done := make(chan Result, 1)
	if !p.workers[0].give(ctx, item{ev: it.ev, done: done, endsBatch: true}) {
		return false
	}
	var r Result
	select {
	case r = <-done:
	case <-ctx.Done():
		return false
	}
	if it.done != nil {
		it.done <- r
	}
	return true
}

func (w *worker) give(ctx context.Context, it item) bool {
	select {
	case w.queue <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *worker) run(ctx context.Context) {
	batch := make([]item, 0, w.p.cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case it := <-w.queue:
			batch = append(batch, it)
		}
		batch = w.fill(ctx, batch)
		if !w.applyWithRetry(ctx, batch) {
			for _, it := range batch {
				if it.done != nil {
					it.done <- Result{Err: errStopped}
				}
			}
			return
		}
	}
}

// fill collects more items until the batch holds BatchSize events or BatchWait has
// passed since the first one arrived, or an item ends it. Marks do not count: they
// cost nothing.
func (w *worker) fill(ctx context.Context, batch []item) []item {
	n := 0
	for _, it := range batch {
		if it.endsBatch {
			return batch
		}
		if it.ev != nil {
			n++
		}
	}
	add := func(it item) bool {
		batch = append(batch, it)
		if it.ev != nil {
			n++
		}
		return !it.endsBatch
	}
	var timer <-chan time.Time
	for n < w.p.cfg.BatchSize {
		select {
		case it := <-w.queue:
			if !add(it) {
				return batch
			}
			continue
		default:
		}
		if timer == nil {
			if w.p.cfg.BatchWait <= 0 {
				return batch
			}
			timer = time.After(w.p.cfg.BatchWait)
		}
		select {
		case it := <-w.queue:
			if !add(it) {
				return batch
			}
		case <-timer:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
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

// applyWithRetry applies the batch until it commits, backing off while the database
// is unreachable. It returns false only when ctx ended first.
func (w *worker) applyWithRetry(ctx context.Context, batch []item) bool {
	p := w.p
	backoff := 50 * time.Millisecond
	for {
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
		done, err := w.apply(actx, batch)
		cancel()
		if err == nil {
			w.committed(ctx, batch, done, time.Since(start))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		p.retries.Inc()
		p.log.Warn("applying batch failed; retrying", "err", err, "worker", w.id, "events", len(batch), "backoff", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 3*time.Second)
	}
}

func (w *worker) committed(ctx context.Context, batch []item, applied []applied, took time.Duration) {
	p := w.p
	var mark uint64
	for _, it := range batch {
		if it.mark > mark {
			mark = it.mark
		}
		if it.ev == nil && it.synced != nil {
			it.synced <- struct{}{}
		}
	}
	for _, a := range applied {
		p.events.WithLabelValues(string(a.ev.Source), a.ev.Table, string(a.outcome)).Inc()
		if a.outcome == DeadLettered {
			p.deadLetters.Inc()
		}
	}
	if len(applied) > 0 {
		p.lastCommit.Store(time.Now().UnixNano())
		p.batchSize.Observe(float64(len(applied)))
		p.batchTime.Observe(took.Seconds())
		for _, h := range w.handlers {
			h.Committed(ctx)
		}
	}
	// Waiting submitters (a barrier, the catch-up, a test) are answered only now,
	// after Committed ran.
	for _, it := range batch {
		if it.ev != nil && it.done != nil {
			it.done <- Result{Outcome: Applied}
		}
	}
	if mark > 0 {
		p.advance(w, mark)
	}
}

// advance records that w committed everything up to mark.
func (p *Pipeline) advance(w *worker, mark uint64) {
	p.markMu.Lock()
	defer p.markMu.Unlock()
	if mark > w.mark {
		w.mark = mark
	}
	low := w.mark
	for _, o := range p.workers {
		low = min(low, o.mark)
	}
	if low > p.reported {
		p.reported = low
		if p.cfg.OnCommitted != nil {
			p.cfg.OnCommitted(low)
		}
	}
}

// LastCommit is when a batch that applied events last committed (zero: never).
func (p *Pipeline) LastCommit() time.Time {
	if n := p.lastCommit.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Committed returns the highest replication mark whose effects, and those of
// everything submitted before it, are committed.
func (p *Pipeline) Committed() uint64 {
	p.markMu.Lock()
	defer p.markMu.Unlock()
	return p.reported
}

// applied is what became of one event of a committed batch.
type applied struct {
	ev      *change.Event
	outcome Outcome
}

// claimSQL claims the pending change records of some keys, up to the highest id a
// notice named, in the batch's transaction: they are marked processed when, and
// only if, the effects written beside them commit.
//
// Each key is first locked for the transaction (pg_advisory_xact_lock on
// hashtext(key), in lock order, so two claimers cannot deadlock). A sidecar that
// claims a key another is applying waits for its commit; its update then finds
// those records processed (Postgres re-checks an updated row's WHERE after waiting)
// and takes only the later ones: a key's records take effect one at a time, in
// order. The email queue's flood control locks the same key (a talent), so within
// a batch that lock costs nothing more. An advisory lock writes no WAL, where
// SELECT … FOR UPDATE would write a lock record for every claimed row.
//
// The locks are a statement of their own, sent with the update in one round trip,
// so that every lock is held before the update reads a row.
const claimLockSQL = `
select count(pg_advisory_xact_lock(h))
  from (select distinct hashtext(k) as h from unnest($1::text[]) k order by 1) l`

var claimSQL = `
update sidecar.changes s set processed_at = now()
 where s.processed_at is null and s.row_key = any($1::text[]) and s.id <= $2
returning s.id, s.row_key, s.table_name, s.op, coalesce(s.actor_id::text, ''), s.actor_role,
          coalesce(s.reason, ''), s.created_at,
          case when s.table_name = 'talent_profiles' then null else s.old_row end,
          case when s.table_name = 'talent_profiles' then null else s.new_row end,
          case when s.table_name = 'talent_profiles' and s.old_row is not null then
            array[` + snapshotFields("s.old_row") + `] end,
          case when s.table_name = 'talent_profiles' and s.new_row is not null then
            array[` + snapshotFields("s.new_row") + `] end`

// talentSnapshot is the keys of a talent's change record snapshot
// (private.record_talent_change, migration 20261202000100; a test keeps the two
// equal). A claim returns them as text arrays rather than jsonb: decoding 40,000
// JSON objects was a third of the sidecar's CPU in a backlog drain.
var talentSnapshot = []string{"id", "user_id", "status", "name", "email", "rejection_reason", "admin_notes",
	"submitted_at", "approved_at", "activated_at"}

func snapshotFields(col string) string {
	fields := make([]string, len(talentSnapshot))
	for i, k := range talentSnapshot {
		fields[i] = col + "->>'" + k + "'"
	}
	return strings.Join(fields, ", ")
}

// snapshotRow builds a talent row from a claim's text array (see talentSnapshot),
// normalised as rowjson normalises a JSON row.
func snapshotRow(vals []*string) (change.Row, error) {
	if len(vals) != len(talentSnapshot) {
		return nil, fmt.Errorf("snapshot has %d fields, want %d", len(vals), len(talentSnapshot))
	}
	r := make(map[string]any, len(vals))
	for i, k := range talentSnapshot {
		if vals[i] == nil {
			r[k] = nil
		} else {
			r[k] = *vals[i]
		}
	}
	return rowjson.Row(r), nil
}

// claim returns the batch's events: the change records its notices claim, in id
// order, then its streamed rows in the order they came.
func (w *worker) claim(ctx context.Context, tx pgx.Tx, batch []item) ([]*change.Event, error) {
	var keys []string
	source := map[string]change.Source{}
	var maxID int64
	var rows []*change.Event
	noticed := map[int64]bool{}
	for _, it := range batch {
		switch ev := it.ev; {
		case ev == nil:
		case ev.Notice:
			if _, ok := source[ev.RowKey]; !ok {
				keys = append(keys, ev.RowKey)
				source[ev.RowKey] = ev.Source
			}
			maxID = max(maxID, ev.ID)
			noticed[ev.ID] = true
		default:
			rows = append(rows, ev)
		}
	}
	if len(keys) == 0 {
		return rows, nil
	}
	// The locks and the first claim in one round trip.
	b := &pgx.Batch{}
	b.Queue(claimLockSQL, keys)
	b.Queue(claimSQL, keys, maxID)
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, fmt.Errorf("locking the keys of %d change records: %w", len(keys), err)
	}
	claimed, err := readClaimed(br.Query, source)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("claiming change records: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	// A notice from the stream can arrive before its transaction is visible: Postgres
	// writes (and logical decoding sends) the commit before the committing backend
	// leaves the list of running transactions. A noticed record neither claimed now
	// nor processed already is that case; claim again, a moment later, in a new
	// snapshot. (Left alone, it would wait for the next catch-up, seconds later.)
	for _, ev := range claimed {
		delete(noticed, ev.ID)
	}
	for i, wait := range claimRetryWaits {
		if len(noticed) == 0 {
			break
		}
		missing := make([]int64, 0, len(noticed))
		for id := range noticed {
			missing = append(missing, id)
		}
		done, err := processedOf(ctx, tx, missing)
		if err != nil {
			return nil, err
		}
		for _, id := range done {
			delete(noticed, id)
		}
		if len(noticed) == 0 {
			break
		}
		if i == 0 {
			w.p.claimRetries.Inc()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		more, err := readClaimed(func() (pgx.Rows, error) { return tx.Query(ctx, claimSQL, keys, maxID) }, source)
		if err != nil {
			return nil, err
		}
		for _, ev := range more {
			delete(noticed, ev.ID)
		}
		claimed = append(claimed, more...)
	}
	sort.Slice(claimed, func(i, j int) bool { return claimed[i].ID < claimed[j].ID })
	return append(claimed, rows...), nil
}

// claimRetryWaits are the pauses before a claim is tried again for noticed records
// not yet visible (about 85 ms in all before they are left to the catch-up). The
// committing backend leaves the running transactions microseconds after its commit
// is flushed, unless it is descheduled, so the first tries come soon: with
// BATCH_WAIT at 0 a notice is often claimed within that window.
var claimRetryWaits = []time.Duration{200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond,
	2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, 16 * time.Millisecond, 50 * time.Millisecond}

// processedOf returns which of ids are processed already (claimed by another batch
// or sidecar).
func processedOf(ctx context.Context, tx pgx.Tx, ids []int64) ([]int64, error) {
	q, err := tx.Query(ctx, `select id from sidecar.changes where id = any($1) and processed_at is not null`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading processed change records: %w", err)
	}
	done, err := pgx.CollectRows(q, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reading processed change records: %w", err)
	}
	return done, nil
}

// readClaimed runs a claim (claimSQL) through query and builds the events of the
// records it claimed.
func readClaimed(query func() (pgx.Rows, error), source map[string]change.Source) ([]*change.Event, error) {
	q, err := query()
	if err != nil {
		return nil, fmt.Errorf("claiming change records: %w", err)
	}
	var claimed []*change.Event
	var id int64
	var key, table, op, actor, role, reason string
	var oldRow, newRow []byte
	var oldSnap, newSnap []*string
	var at time.Time
	_, err = pgx.ForEachRow(q, []any{&id, &key, &table, &op, &actor, &role, &reason, &at, &oldRow, &newRow, &oldSnap, &newSnap}, func() error {
		ev := &change.Event{Source: source[key], Schema: "public", Table: table, Op: change.Op(op),
			ID: id, RowKey: key, ActorID: actor, ActorRole: role, Reason: reason, At: at, Key: change.RecordKey(id)}
		var err error
		if oldSnap != nil {
			if ev.Old, err = snapshotRow(oldSnap); err != nil {
				return fmt.Errorf("change record %d: old_row: %w", id, err)
			}
		}
		if newSnap != nil {
			if ev.New, err = snapshotRow(newSnap); err != nil {
				return fmt.Errorf("change record %d: new_row: %w", id, err)
			}
		}
		if oldRow != nil {
			if ev.Old, err = rowjson.Decode(oldRow); err != nil {
				return fmt.Errorf("change record %d: old_row: %w", id, err)
			}
		}
		if newRow != nil {
			if ev.New, err = rowjson.Decode(newRow); err != nil {
				return fmt.Errorf("change record %d: new_row: %w", id, err)
			}
		}
		claimed = append(claimed, ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claiming change records: %w", err)
	}
	return claimed, nil
}

// apply runs the batch in one transaction: it claims the batch's records, then
// first tries every event without savepoints (the common case, and the fast one);
// if any event fails it rolls back and replays the batch with a savepoint around
// each event, so only the failing events are rolled back and dead-lettered.
// Handlers are idempotent, so replaying is safe.
func (w *worker) apply(ctx context.Context, batch []item) ([]applied, error) {
	p := w.p
	hasEvents := false
	for _, it := range batch {
		hasEvents = hasEvents || it.ev != nil
	}
	if !hasEvents {
		return nil, nil
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("beginning batch: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	evs, err := w.claim(ctx, tx, batch)
	if err != nil {
		return nil, err
	}
	failed := false
	for _, ev := range evs {
		if err := w.handle(ctx, tx, ev); err != nil {
			p.log.Debug("event failed in fast path; replaying batch with savepoints", "key", ev.Key, "err", err)
			failed = true
			break
		}
	}
	if !failed {
		if err := w.flush(ctx, tx); err != nil {
			p.log.Debug("flush failed in fast path; replaying batch with savepoints", "err", err)
			failed = true
		}
	}
	if !failed {
		if err := tx.Commit(ctx); err != nil {
			return nil, fmt.Errorf("committing batch: %w", err)
		}
		out := make([]applied, len(evs))
		for i, ev := range evs {
			out[i] = applied{ev, Applied}
		}
		return out, nil
	}
	w.discard()
	if err := tx.Rollback(ctx); err != nil {
		return nil, fmt.Errorf("rolling back batch: %w", err)
	}
	return w.applySafely(ctx, batch)
}

func (w *worker) applySafely(ctx context.Context, batch []item) ([]applied, error) {
	p := w.p
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("beginning batch: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	evs, err := w.claim(ctx, tx, batch)
	if err != nil {
		return nil, err
	}
	out := make([]applied, 0, len(evs))
	for _, ev := range evs {
		var evErr error
		// Two tries: a statement that lost a race with a concurrent change (say the
		// talent was deleted under it) sees the new state on its second snapshot.
		for attempt := 0; attempt < 2; attempt++ {
			if _, err := tx.Exec(ctx, "savepoint event"); err != nil {
				return nil, fmt.Errorf("creating savepoint: %w", err)
			}
			evErr = w.handle(ctx, tx, ev)
			if evErr == nil {
				evErr = w.flush(ctx, tx)
			}
			if evErr == nil {
				if _, err := tx.Exec(ctx, "release savepoint event"); err != nil {
					return nil, fmt.Errorf("releasing savepoint: %w", err)
				}
				break
			}
			w.discard()
			if _, err := tx.Exec(ctx, "rollback to savepoint event"); err != nil {
				return nil, fmt.Errorf("rolling back to savepoint after %v: %w", evErr, err)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		if evErr == nil {
			out = append(out, applied{ev, Applied})
			continue
		}
		if err := p.deadLetter(ctx, tx, ev, evErr); err != nil {
			return nil, err
		}
		out = append(out, applied{ev, DeadLettered})
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("committing batch: %w", err)
	}
	return out, nil
}

var errNoKey = errors.New("the event has no idempotency key")

func (w *worker) handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if ev.Key == "" {
		return errNoKey
	}
	for _, h := range w.handlers {
		if !h.Watches().Matches(ev) {
			continue
		}
		if err := h.Handle(ctx, tx, ev); err != nil {
			return fmt.Errorf("%T: %w", h, err)
		}
	}
	return nil
}

func (w *worker) flush(ctx context.Context, tx pgx.Tx) error {
	for _, h := range w.handlers {
		if err := h.Flush(ctx, tx); err != nil {
			return fmt.Errorf("%T: %w", h, err)
		}
	}
	return nil
}

func (w *worker) discard() {
	for _, h := range w.handlers {
		h.Discard()
	}
}

func (p *Pipeline) deadLetter(ctx context.Context, tx pgx.Tx, ev *change.Event, cause error) error {
	key := ev.Key
	if key == "" {
		key = fmt.Sprintf("%s:%s:%s:%d", ev.Table, ev.Op, ev.Source, time.Now().UnixNano())
	}
	payload, err := json.Marshal(map[string]any{
		"schema": ev.Schema, "table": ev.Table, "type": ev.Op, "record": ev.New, "old_record": ev.Old,
		"change_id": ev.ID, "actor_id": ev.ActorID, "actor_role": ev.ActorRole, "at": ev.At,
	})
	if err != nil {
		payload = []byte(`null`)
	}
	var lsn any
	if ev.CommitLSN != 0 {
		lsn = fmt.Sprintf("%X/%X", ev.CommitLSN>>32, uint32(ev.CommitLSN))
	}
	_, err = tx.Exec(ctx, `insert into public.sidecar_dead_letters
		(source, idempotency_key, table_name, operation, reason, payload, commit_lsn)
		values ($1, $2, $3, $4, $5, $6, $7::pg_lsn)
		on conflict (idempotency_key) do nothing`,
		string(ev.Source), key, ev.Table, string(ev.Op), cause.Error(), payload, lsn)
	if err != nil {
		return fmt.Errorf("recording dead letter %s: %w", key, err)
	}
	p.log.Warn("event dead-lettered", "key", key, "table", ev.Table, "op", ev.Op, "reason", cause.Error())
	return nil
}
