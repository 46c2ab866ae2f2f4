package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
)

// worker applies the events of its partitions in batches, with its own handlers
// (a handler may buffer rows per worker until Flush).
type worker struct {
	p        *Pipeline
	id       int
	queue    chan item
	handlers []Handler
	mark     uint64 // highest mark this worker has committed; guarded by p.markMu
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
