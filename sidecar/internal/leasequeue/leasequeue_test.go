package leasequeue

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// queue is an in-memory lease queue: Claim hands out up to n of its pending rows.
type queue struct {
	mu      sync.Mutex
	pending []int
	asked   []int // the n of every claim
}

func (q *queue) add(rows ...int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, rows...)
}

func (q *queue) claim(_ context.Context, n int) ([]int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.asked = append(q.asked, n)
	n = min(n, len(q.pending))
	out := q.pending[:n:n]
	q.pending = q.pending[n:]
	return out, nil
}

func TestLoopWorksEveryRowWithinItsConcurrency(t *testing.T) {
	q := &queue{}
	for i := 0; i < 50; i++ {
		q.add(i)
	}
	var running, most atomic.Int32
	var done sync.Map
	var count atomic.Int32
	l := Loop[int]{Concurrency: 4, Poll: time.Hour, Claim: q.claim, Log: testlog.New(t), Noun: "rows",
		Work: func(_ context.Context, r int) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			_, dup := done.LoadOrStore(r, true)
			require.False(t, dup, "row %d worked twice", r)
			count.Add(1)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { l.Run(ctx); close(finished) }()
	require.Eventually(t, func() bool { return count.Load() == 50 }, 10*time.Second, time.Millisecond,
		"a full claim is followed by another as slots free, without waiting for the hour-long poll")
	cancel()
	<-finished
	require.LessOrEqual(t, most.Load(), int32(4), "never more rows at once than Concurrency")
	for _, n := range q.asked {
		require.LessOrEqual(t, n, 4, "a claim asks for no more than the free slots")
	}
}

func TestLoopWakesAtOnceAndFinishesWorkAfterCancel(t *testing.T) {
	q := &queue{}
	wake := NewWakeup()
	release := make(chan struct{})
	var worked atomic.Int32
	l := Loop[int]{Concurrency: 2, Poll: time.Hour, Wake: wake, Claim: q.claim, Log: testlog.New(t), Noun: "rows",
		Work: func(ctx context.Context, _ int) {
			<-release
			require.NoError(t, ctx.Err(), "work's context outlives the loop's")
			worked.Add(1)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { l.Run(ctx); close(finished) }()

	require.Eventually(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.asked) == 1 }, 5*time.Second, time.Millisecond)
	q.add(7)
	wake.Ring()
	require.Eventually(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.pending) == 0 }, 5*time.Second, time.Millisecond,
		"a ring makes a drained loop claim now, not at its next poll")

	cancel()
	select {
	case <-finished:
		t.Fatal("Run returned while a row was still being worked on")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-finished
	require.Equal(t, int32(1), worked.Load())
}

func TestLoopHoldsBeforeClaiming(t *testing.T) {
	q := &queue{}
	q.add(1, 2, 3)
	var hold atomic.Bool
	hold.Store(true)
	var holds, worked atomic.Int32
	l := Loop[int]{Concurrency: 1, Poll: time.Hour, Claim: q.claim, Log: testlog.New(t), Noun: "rows",
		Hold:    func() bool { holds.Add(1); return hold.Load() },
		HoldFor: 20 * time.Millisecond,
		Work:    func(context.Context, int) { worked.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go l.Run(ctx)
	require.Eventually(t, func() bool { return worked.Load() == 3 }, 5*time.Second, time.Millisecond)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond, "each of the three claims waited HoldFor first")
	require.GreaterOrEqual(t, holds.Load(), int32(3))
	hold.Store(false)
}
