package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// TestHighAvailability runs two instances on one slot: one streams, the other
// waits; killing the leader hands the slot to the other within seconds, and no
// change is lost across the takeover.
func TestHighAvailability(t *testing.T) {
	db := testdb.New(t)
	ids := seedTalents(t, db.Pool, 20)
	bin := sidecartest.Binary(t)
	env := sidecartest.Env(t, db.URL, nil)
	a := sidecartest.Start(t, bin, env)
	require.NoError(t, a.WaitState("streaming", 15*time.Second))
	b := sidecartest.Start(t, bin, env)
	require.NoError(t, b.WaitState("standby", 15*time.Second))
	ready, _ := b.Ready()
	require.True(t, ready, "a standby is ready: it serves webhooks")

	ctx := context.Background()
	var keys []string
	for _, id := range ids[:10] {
		k, err := transition(ctx, db.Pool, id, "approved")
		require.NoError(t, err)
		keys = append(keys, k)
	}
	a.Kill()
	killed := time.Now()
	// Changes made while nobody streams are picked up by the new leader.
	for _, id := range ids[10:] {
		k, err := transition(ctx, db.Pool, id, "approved")
		require.NoError(t, err)
		keys = append(keys, k)
	}
	require.NoError(t, b.WaitState("streaming", 20*time.Second))
	t.Logf("standby took over %s after the leader was killed", time.Since(killed).Round(time.Millisecond))
	requireExactly(t, db, keys)

	// Still one consumer: the slot's active pid is the survivor's walsender.
	var active int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from pg_replication_slots where database = current_database() and active`).Scan(&active))
	require.Equal(t, 1, active)
}

// TestSlotAdvancesOnUnrelatedWorkload writes a table outside the publication in a
// loop and checks that the slot's confirmed position follows the WAL, so an
// unrelated workload never pins WAL.
func TestSlotAdvancesOnUnrelatedWorkload(t *testing.T) {
	db := testdb.New(t)
	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 15*time.Second))
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `create table public.unrelated_noise (id bigserial primary key, payload text)`)
	require.NoError(t, err)

	slotLSN := func() (confirmed, current pglogrepl.LSN) {
		var c, w string
		require.NoError(t, db.Pool.QueryRow(ctx, `select confirmed_flush_lsn::text, pg_current_wal_lsn()::text
			from pg_replication_slots where database = current_database()`).Scan(&c, &w))
		cl, err := pglogrepl.ParseLSN(c)
		require.NoError(t, err)
		wl, err := pglogrepl.ParseLSN(w)
		require.NoError(t, err)
		return cl, wl
	}
	start, _ := slotLSN()
	var written int64
	stop := time.Now().Add(6 * time.Second)
	var maxLag uint64
	advances := 0
	last := start
	for time.Now().Before(stop) {
		_, err := db.Pool.Exec(ctx, `insert into public.unrelated_noise (payload) select repeat('x', 200) from generate_series(1, 200)`)
		require.NoError(t, err)
		written += 200
		c, _ := slotLSN()
		if c > last {
			advances++
			last = c
		}
		time.Sleep(20 * time.Millisecond)
	}
	// After the writes stop, the slot catches up to the WAL written by them.
	_, end := slotLSN()
	require.NoError(t, sidecartest.WaitFor(ctx, 10*time.Second, func() (bool, error) {
		c, _ := slotLSN()
		return c >= end, nil
	}), "the slot confirms past the unrelated WAL")
	c, cur := slotLSN()
	maxLag = uint64(cur - c)
	t.Logf("%d unrelated rows, WAL %s -> %s, slot advanced %d times during the load, lag after %d bytes", written, start, end, advances, maxLag)
	require.GreaterOrEqual(t, advances, 3, "the slot moves while the unrelated load runs")
	require.Greater(t, uint64(end-start), uint64(1<<20), "the load wrote real WAL")
}
