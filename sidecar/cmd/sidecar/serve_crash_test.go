package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// approveAll moves every talent submitted -> approved, and every other one on to
// active, as the admin, returning the audit keys the changes must produce.
func approveAll(ctx context.Context, t *testing.T, db *testdb.DB, ids []string, pace time.Duration) []string {
	var keys []string
	for i, id := range ids {
		k, err := transition(ctx, db.Pool, id, "approved")
		require.NoError(t, err)
		keys = append(keys, k)
		if i%2 == 0 {
			k, err = transition(ctx, db.Pool, id, "active")
			require.NoError(t, err)
			keys = append(keys, k)
		}
		time.Sleep(pace)
	}
	return keys
}

// requireExactly waits for the audit log to hold exactly the expected keys, once each.
func requireExactly(t *testing.T, db *testdb.DB, want []string) {
	t.Helper()
	err := sidecartest.WaitFor(context.Background(), 30*time.Second, func() (bool, error) {
		n, err := countActions(db.Pool)
		return n >= len(want), err
	})
	if err != nil {
		n, _ := countActions(db.Pool)
		t.Fatalf("audit rows did not all arrive: %d of %d: %v", n, len(want), err)
	}
	got := auditKeys(t, db.Pool)
	for _, k := range want {
		require.Equal(t, 1, got[k], "audit row %s", k)
	}
	require.Len(t, got, len(want), "no audit rows beyond the expected ones")
}

// TestCrashSafety kills the sidecar with SIGKILL at random moments while admins
// approve and activate talents, restarts it each time, and proves every admin
// action is in the audit log exactly once.
func TestCrashSafety(t *testing.T) {
	db := testdb.New(t)
	bin := sidecartest.Binary(t)
	ids := seedTalents(t, db.Pool, 240)
	env := sidecartest.Env(t, db.URL, map[string]string{"BATCH_WAIT": "2ms", "BATCH_SIZE": "50"})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	// The slot must exist before the first change: start once and wait for the stream.
	first := sidecartest.Start(t, bin, env)
	require.NoError(t, first.WaitState("streaming", 15*time.Second))
	first.Kill()

	var keys []string
	var wg sync.WaitGroup
	wg.Add(1)
	writing := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(writing)
		keys = approveAll(ctx, t, db, ids, 10*time.Millisecond)
	}()

	kills := 0
	for done := false; !done; {
		p := sidecartest.Start(t, bin, env)
		select {
		case <-writing:
			done = true
		case <-time.After(time.Duration(150+rand.IntN(600)) * time.Millisecond):
		}
		p.Kill()
		kills++
	}
	wg.Wait()
	t.Logf("sidecar killed %d times while %d admin actions were written", kills, len(keys))
	require.Greater(t, kills, 3)

	p := sidecartest.Start(t, bin, env)
	require.NoError(t, p.WaitState("streaming", 15*time.Second))
	requireExactly(t, db, keys)
	p.Stop()
	require.Equal(t, 0, p.ExitCode(), "SIGTERM stops the sidecar cleanly")
}

// TestServerLossMidStream stands in for a Postgres restart (the shared test cluster
// cannot be restarted under other tests): it repeatedly terminates every backend of
// the sidecar (walsender, leader lock, pool) with pg_terminate_backend while changes
// stream in. The sidecar must reconnect, resume from its confirmed position, and
// lose nothing.
func TestServerLossMidStream(t *testing.T) {
	db := testdb.New(t)
	bin := sidecartest.Binary(t)
	ids := seedTalents(t, db.Pool, 150)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 15*time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var keys []string
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		keys = approveAll(ctx, t, db, ids, 15*time.Millisecond)
	}()
	terminations := 0
	for done := false; !done; {
		select {
		case <-writing:
			done = true
		case <-time.After(time.Duration(300+rand.IntN(400)) * time.Millisecond):
			var n int
			err := db.Pool.QueryRow(ctx, `select count(pg_terminate_backend(pid)) from pg_stat_activity
				where datname = current_database() and application_name like 'talent_sidecar%'`).Scan(&n)
			require.NoError(t, err)
			terminations += n
		}
	}
	t.Logf("terminated %d sidecar backends while %d admin actions were written", terminations, len(keys))
	require.Greater(t, terminations, 3)
	requireExactly(t, db, keys)
	require.NoError(t, p.WaitState("streaming", 15*time.Second), "the stream is re-established")
}
