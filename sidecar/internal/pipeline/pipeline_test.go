package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// recorder writes one row per event into a scratch table, and refuses events whose
// key says "poison", like a row that breaks an assumption.
type recorder struct{}

func (recorder) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if _, err := tx.Exec(ctx, `insert into scratch_effects (key) values ($1) on conflict do nothing`, ev.Key); err != nil {
		return err
	}
	if ev.New.Str("kind") == "poison" {
		return errors.New("poison row: breaks an assumption")
	}
	return nil
}

func TestDeadLetterDoesNotStallTheStream(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `create table scratch_effects (key text primary key)`)
	require.NoError(t, err)

	p := pipeline.New(pipeline.Config{BatchSize: 100, BatchWait: 20 * time.Millisecond}, db.Pool,
		[]change.Handler{recorder{}}, testlog.New(t), nil)
	var committed uint64
	p.OnCommitted = func(lsn uint64) { committed = lsn }
	p.Start(ctx)
	defer p.Stop()

	ev := func(key, kind string) *change.Event {
		return &change.Event{Source: change.SourceReplication, Schema: "public", Table: "t", Op: change.Insert,
			New: change.Row{"kind": kind}, Key: key, CommitLSN: 1}
	}
	require.NoError(t, p.Submit(ctx, ev("a", "ok")))
	require.NoError(t, p.Submit(ctx, ev("b", "poison")))
	require.NoError(t, p.Submit(ctx, ev("", "ok"))) // no key: dead-lettered too
	require.NoError(t, p.Mark(ctx, 42))
	r := p.Apply(ctx, &change.Event{Source: change.SourceWebhook, Schema: "public", Table: "t", Op: change.Insert,
		New: change.Row{"kind": "ok"}, Key: "c"})
	require.NoError(t, r.Err)
	require.Equal(t, pipeline.Applied, r.Outcome)
	require.Equal(t, uint64(42), committed, "the mark after a dead letter is reported")

	var effects []string
	rows, err := db.Pool.Query(ctx, `select key from scratch_effects order by key`)
	require.NoError(t, err)
	effects, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, effects, "the poison event's writes are rolled back, the others kept")

	var reason string
	require.NoError(t, db.Pool.QueryRow(ctx, `select reason from public.sidecar_dead_letters where idempotency_key = 'b'`).Scan(&reason))
	require.Contains(t, reason, "breaks an assumption")
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.sidecar_dead_letters`).Scan(&n))
	require.Equal(t, 2, n)

	// Redelivery of the poison event: still one dead letter.
	r = p.Apply(ctx, ev("b", "poison"))
	require.Equal(t, pipeline.DeadLettered, r.Outcome)
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.sidecar_dead_letters`).Scan(&n))
	require.Equal(t, 2, n)
}
