// Package leasequeue runs the worker loop of a lease queue: a table whose due rows
// any instance may claim (FOR UPDATE SKIP LOCKED, pushing the row's next attempt
// forward by a lease) and then work on outside any transaction. The email outbox
// and the storage cleaner are such queues; each keeps its own claim query and its
// own work, and this package keeps the loop between them: claim as many rows as
// there are free slots, run each in its own goroutine, claim again when a slot
// frees, and, once the queue is drained, wait for a wake-up or the next poll.
package leasequeue

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ClaimSQL is the claim of a lease queue table (one with id, status,
// next_attempt_at, attempts and updated_at): it leases up to $1 due rows ('queued'
// and next_attempt_at passed, oldest first, skipping rows another claim holds),
// counts the attempt and pushes next_attempt_at forward by the lease ($2, an
// interval), so a row whose worker dies comes due again once the lease runs out.
// returning lists what to read from each claimed row, whose alias is q.
func ClaimSQL(table, returning string) string {
	return `
		with due as (
			select id from ` + table + `
			 where status = 'queued' and next_attempt_at <= now()
			 order by next_attempt_at
			 limit $1
			 for update skip locked
		)
		update ` + table + ` q
		   set attempts = q.attempts + 1, next_attempt_at = now() + $2::interval, updated_at = now()
		  from due where q.id = due.id
		returning ` + returning
}

// Wakeup tells a loop to claim now rather than at its next poll. Rings while the
// loop is busy fold into one.
type Wakeup struct{ c chan struct{} }

// NewWakeup returns a Wakeup no loop reads yet.
func NewWakeup() *Wakeup { return &Wakeup{c: make(chan struct{}, 1)} }

// Ring wakes the loop.
func (w *Wakeup) Ring() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// Loop is one queue's loop.
type Loop[T any] struct {
	// Concurrency is how many rows are worked on at once (at least 1).
	Concurrency int
	// Poll is how long a drained loop waits when nothing wakes it.
	Poll time.Duration
	// Wake, when set, wakes a drained loop at once.
	Wake *Wakeup
	// Hold, when set, is asked before every claim; while it says true the loop
	// waits HoldFor before claiming (the outbox yields to a pipeline backlog).
	Hold    func() bool
	HoldFor time.Duration
	// Claim leases up to n due rows.
	Claim func(ctx context.Context, n int) ([]T, error)
	// Work handles one claimed row, including recording its outcome. Its context
	// outlives Run's: work in flight when Run's context ends is finished, not
	// abandoned half done.
	Work func(ctx context.Context, row T)
	// Log receives claim errors as "claiming <Noun>".
	Log  *slog.Logger
	Noun string
}

// Run claims and works until ctx ends, then waits for the work in flight.
func (l *Loop[T]) Run(ctx context.Context) {
	slots := make(chan struct{}, max(l.Concurrency, 1))
	freed := make(chan struct{}, cap(slots))
	var inflight sync.WaitGroup
	defer inflight.Wait()
	work := context.WithoutCancel(ctx)
	var wake <-chan struct{}
	if l.Wake != nil {
		wake = l.Wake.c
	}
	for {
		if l.Hold != nil && l.Hold() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(l.HoldFor):
			}
		}
		free := cap(slots) - len(slots)
		got := 0
		if free > 0 {
			rows, err := l.Claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				l.Log.Error("claiming "+l.Noun, "error", err)
			}
			got = len(rows)
			for _, r := range rows {
				slots <- struct{}{}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					l.Work(work, r)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
		}
		if free == 0 || (got == free && got > 0) {
			// Busy, or there may be more due: claim again as soon as a slot frees.
			select {
			case <-ctx.Done():
				return
			case <-freed:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(l.Poll):
		}
	}
}
