package replication

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// memSink commits each transaction's end as it comes, as a pipeline that applied
// everything before it would.
type memSink struct {
	mu        sync.Mutex
	marks     int
	committed uint64
}

func (m *memSink) Submit(context.Context, *change.Event) error { return nil }

func (m *memSink) Mark(_ context.Context, lsn uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks++
	m.committed = max(m.committed, lsn)
	return nil
}

func (m *memSink) Committed() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.committed
}

// marked is how many transactions the sink was given the end of.
func (m *memSink) marked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.marks
}

// TestStreamConfirmsAndStopsPromptly runs a Stream on a real slot with the standby
// deadline far away (30 s), so that no reply the server is asked for helps: a
// committed change is confirmed to the server within a second, a burst of
// transactions (each moving the confirmable position, confirmations spaced by
// confirmGap) is confirmed up to its last commit, and cancelling the context ends
// Run within 100 ms while it waits for the server (the read is interrupted, not
// left to run out its deadline of up to maxRead).
func TestStreamConfirmsAndStopsPromptly(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	sink := &memSink{}
	s := New(Config{URL: db.URL, Slot: "stream_test", Publication: "stream_test", StandbyEvery: 30 * time.Second},
		db.Pool, sink, slog.New(slog.DiscardHandler), nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()
	require.Eventually(t, s.Streaming, 10*time.Second, 10*time.Millisecond, "stream never started")

	confirmed := func() uint64 {
		var lsn uint64
		require.NoError(t, db.Pool.QueryRow(ctx, `select coalesce(confirmed_flush_lsn - '0/0', 0)::bigint
			from pg_replication_slots where slot_name = 'stream_test'`).Scan(&lsn))
		return lsn
	}
	record := func(i int) {
		_, err := db.Pool.Exec(ctx, `insert into sidecar.changes (row_key, table_name, op, actor_role, new_row)
			values ('test:' || $1::int, 'talent_profiles', 'UPDATE', 'service', '{}')`, i)
		require.NoError(t, err)
	}

	record(0)
	require.Eventually(t, func() bool { return sink.marked() == 1 }, 5*time.Second, 5*time.Millisecond, "the change never arrived")
	mark := sink.Committed()
	require.NotZero(t, mark)
	require.Eventually(t, func() bool { return confirmed() >= mark }, time.Second, 10*time.Millisecond,
		"mark %d not confirmed within a second (standby deadline 30 s away)", mark)

	// A burst of 200 transactions: each moves the confirmable position, and the
	// last one is confirmed.
	for i := 1; i <= 200; i++ {
		record(i)
	}
	// Its last transaction's end, not only its last row: Mark follows Submit.
	require.Eventually(t, func() bool { return sink.marked() == 201 }, 10*time.Second, 5*time.Millisecond, "the burst never arrived")
	mark = sink.Committed()
	require.Eventually(t, func() bool { return confirmed() >= mark }, time.Second, 10*time.Millisecond,
		"the burst's last mark %d not confirmed within a second", mark)

	// Idle now: the stream waits in a read. Cancelling ends it at once.
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
		done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	require.Less(t, time.Since(start), 100*time.Millisecond, "Run took too long to return after cancel")
}
