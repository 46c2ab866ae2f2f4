package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// rows is the part of the Handler contract these tests' handlers share: they watch
// the streamed rows of table t and have nothing to flush, discard or publish.
type rows struct{}

func (rows) Watches() change.Watch               { return change.Watch{Rows: []string{"t"}} }
func (rows) Flush(context.Context, pgx.Tx) error { return nil }
func (rows) Discard()                            {}
func (rows) Committed(context.Context)           {}

// recorder writes one row per event into a scratch table, and refuses events whose
// key says "poison", like a row that breaks an assumption.
type recorder struct{ rows }

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

	var committed atomic.Uint64
	p := pipeline.New(pipeline.Config{BatchSize: 100, BatchWait: 20 * time.Millisecond,
		OnCommitted: func(lsn uint64) { committed.Store(lsn) }}, db.Pool,
		func() []pipeline.Handler { return []pipeline.Handler{recorder{}} }, nil, testlog.New(t), nil)
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
	r := p.Apply(ctx, &change.Event{Source: change.SourceReplication, Schema: "public", Table: "t", Op: change.Insert,
		New: change.Row{"kind": "ok"}, Key: "c"})
	require.NoError(t, r.Err)
	require.Equal(t, pipeline.Applied, r.Outcome)
	// The mark is reported right after its batch's answers are sent.
	require.Eventually(t, func() bool { return committed.Load() == 42 }, 5*time.Second, time.Millisecond,
		"the mark after a dead letter is reported")

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
	require.NoError(t, r.Err)
	require.Equal(t, pipeline.Applied, r.Outcome, "a waiting submitter learns its batch committed")
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.sidecar_dead_letters`).Scan(&n))
	require.Equal(t, 2, n)
}

// config stands for the email configuration (email.Live): a barrier event is a
// change to it, validated in the batch's transaction and published only once that
// batch has committed (Handler.Committed). It is shared by every worker, as Live is.
type config struct {
	mu           sync.Mutex
	pending, cur string
}

func (c *config) Committed(context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != "" {
		c.cur, c.pending = c.pending, ""
	}
}

// sequencer records each event's key with a database-assigned order and the
// configuration in force when it was handled; a barrier event stages a new
// configuration. It stalls the slow partition's events so the workers fall out of
// step.
type sequencer struct {
	rows
	cfg *config
}

func (s sequencer) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	part := ev.New.Str("id")
	if part == "slow" {
		time.Sleep(2 * time.Millisecond)
	}
	s.cfg.mu.Lock()
	seen := s.cfg.cur
	if part == "" {
		s.cfg.pending = ev.Key
	}
	s.cfg.mu.Unlock()
	_, err := tx.Exec(ctx, `insert into scratch_seq (key, part, seen) values ($1, $2, $3)`, ev.Key, part, seen)
	return err
}

// Committed publishes what a committed barrier staged.
func (s sequencer) Committed(ctx context.Context) { s.cfg.Committed(ctx) }

// TestWorkersKeepPartitionOrderBarriersAndMarks, with one worker and with four:
// each partition's events commit in the order submitted; a barrier event sees every
// event submitted before it committed, and every event after it is handled with the
// configuration it published; a mark is reported only once every event submitted
// before it is committed.
func TestWorkersKeepPartitionOrderBarriersAndMarks(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) { testWorkers(t, workers) })
	}
}

func testWorkers(t *testing.T, workers int) {
	db := testdb.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `create table scratch_seq (n bigserial primary key, key text not null unique,
		part text not null, seen text not null)`)
	require.NoError(t, err)

	route := func(ev *change.Event) string { return ev.New.Str("id") } // "" is a barrier
	cfg := &config{}
	var barrierSaw []int
	barrier := handlerFunc{fn: func(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
		if ev.New.Str("id") != "" {
			return nil
		}
		var n int
		// The barrier's own transaction sees what other workers committed.
		if err := tx.QueryRow(ctx, `select count(*) from scratch_seq`).Scan(&n); err != nil {
			return err
		}
		barrierSaw = append(barrierSaw, n)
		return nil
	}}
	type report struct {
		lsn       uint64
		committed int
	}
	reports := make(chan report, 1000)
	onCommitted := func(lsn uint64) {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from scratch_seq`).Scan(&n))
		reports <- report{lsn, n}
	}
	p := pipeline.New(pipeline.Config{BatchSize: 7, BatchWait: time.Millisecond, Workers: workers, OnCommitted: onCommitted}, db.Pool,
		func() []pipeline.Handler { return []pipeline.Handler{sequencer{cfg: cfg}, barrier} }, route, testlog.New(t), nil)
	p.Start(ctx)
	defer p.Stop()

	parts := []string{"a", "b", "c", "d", "e", "slow"}
	submitted := 0
	wantAt := map[uint64]int{} // events submitted before each mark
	for i := 0; i < 300; i++ {
		part := parts[i%len(parts)]
		key := fmt.Sprintf("%s-%03d", part, i)
		if i%100 == 99 {
			part, key = "", fmt.Sprintf("barrier-%03d", i)
		}
		require.NoError(t, p.Submit(ctx, &change.Event{Source: change.SourceReplication, Schema: "public", Table: "t",
			Op: change.Insert, New: change.Row{"id": part}, Key: key, CommitLSN: uint64(i + 1)}))
		submitted++
		if i%10 == 9 {
			require.NoError(t, p.Mark(ctx, uint64(i+1)))
			wantAt[uint64(i+1)] = submitted
		}
	}
	var last report
	for last.lsn < 300 {
		select {
		case last = <-reports:
			require.GreaterOrEqual(t, last.committed, wantAt[last.lsn], "mark %d reported before its events committed", last.lsn)
		case <-time.After(10 * time.Second):
			t.Fatalf("mark 300 not reported; last %d", last.lsn)
		}
	}

	rows, err := db.Pool.Query(ctx, `select key, part, seen from scratch_seq order by n`)
	require.NoError(t, err)
	type rec struct{ Key, Part, Seen string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	require.NoError(t, err)
	require.Len(t, got, 300)
	lastOf := map[string]string{}
	for _, r := range got {
		require.Greater(t, r.Key, lastOf[r.Part], "partition %q out of order", r.Part)
		lastOf[r.Part] = r.Key
	}
	// Barriers at events 100, 200, 300 saw exactly the events before them (and their
	// own row, written by the sequencer in the same transaction).
	require.Equal(t, []int{100, 200, 300}, barrierSaw)
	for i, r := range got {
		if r.Part == "" {
			require.Equal(t, []int{99, 199, 299}[i/100], i, "barrier %s committed at position %d", r.Key, i)
		}
	}
	// Every event is handled with the configuration of the last barrier before it.
	for _, r := range got {
		var i int
		_, err := fmt.Sscanf(r.Key[strings.LastIndex(r.Key, "-")+1:], "%d", &i)
		require.NoError(t, err)
		want := ""
		if i > 99 {
			want = fmt.Sprintf("barrier-%03d", (i+1)/100*100-1)
			if i%100 == 99 {
				want = fmt.Sprintf("barrier-%03d", i-100)
			}
		}
		require.Equal(t, want, r.Seen, "event %s", r.Key)
	}
}

type handlerFunc struct {
	rows
	fn func(ctx context.Context, tx pgx.Tx, ev *change.Event) error
}

func (f handlerFunc) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	return f.fn(ctx, tx, ev)
}

// applier records, for each change record of table t it is handed, the record and
// the pipeline that handled it, in the batch's transaction.
type applier struct {
	name  string
	delay time.Duration
}

func (a applier) Watches() change.Watch               { return change.Watch{Records: []string{"t"}} }
func (a applier) Flush(context.Context, pgx.Tx) error { return nil }
func (a applier) Discard()                            {}
func (a applier) Committed(context.Context)           {}
func (a applier) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	time.Sleep(a.delay)
	_, err := tx.Exec(ctx, `insert into scratch_applied (change_id, row_key, by, i) values ($1, $2, $3, $4)`,
		ev.ID, ev.RowKey, a.name, ev.New["i"])
	return err
}

// Two sidecars (two pipelines with four workers each) are told of every change
// record, each in its own order, some twice and some not at all: every record is
// applied exactly once, the records of one key in id order, and the records no
// notice named are claimed with the later ones of their key.
func TestClaimAppliesEachRecordOnceInKeyOrder(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `
		create table scratch_applied (n bigserial primary key, change_id bigint not null, row_key text not null,
		                              by text not null, i int not null);
		insert into sidecar.changes (row_key, table_name, op, actor_role, new_row)
		select 'k' || (i % 12), 't', 'UPDATE', 'service', jsonb_build_object('i', i) from generate_series(1, 600) i`)
	require.NoError(t, err)
	rows, err := db.Pool.Query(ctx, `select id, row_key from sidecar.changes order by id`)
	require.NoError(t, err)
	type rec struct {
		ID  int64
		Key string
	}
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	require.NoError(t, err)

	route := func(ev *change.Event) string { return ev.RowKey }
	var wg sync.WaitGroup
	for n, name := range []string{"one", "two"} {
		p := pipeline.New(pipeline.Config{BatchSize: 20, BatchWait: time.Millisecond, Workers: 4}, db.Pool,
			func() []pipeline.Handler {
				return []pipeline.Handler{applier{name: name, delay: 100 * time.Microsecond}}
			},
			route, testlog.New(t), nil)
		p.Start(ctx)
		defer p.Stop()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var waits []<-chan pipeline.Result
			for i := range recs {
				r := recs[i]
				if n == 1 {
					r = recs[(i+len(recs)/2)%len(recs)] // the other one hears of the newer half first
				}
				if r.ID%7 == 3 && r.ID <= int64(len(recs)-12) {
					continue // a lost notice: claimed with a later record of its key
				}
				copies := 1 + int(r.ID%3/2) // some notices arrive twice
				for c := 0; c < copies; c++ {
					ch, err := p.Send(ctx, &change.Event{Source: change.SourceWebhook, Schema: "sidecar", Table: "changes",
						Op: change.Insert, Notice: true, ID: r.ID, RowKey: r.Key})
					require.NoError(t, err)
					waits = append(waits, ch)
				}
			}
			for _, ch := range waits {
				require.NoError(t, (<-ch).Err)
			}
		}()
	}
	wg.Wait()

	rows, err = db.Pool.Query(ctx, `select change_id, row_key from scratch_applied order by n`)
	require.NoError(t, err)
	applied, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	require.NoError(t, err)
	seen := map[int64]bool{}
	last := map[string]int64{}
	for _, a := range applied {
		require.False(t, seen[a.ID], "record %d applied twice", a.ID)
		seen[a.ID] = true
		require.Greater(t, a.ID, last[a.Key], "key %s applied out of order", a.Key)
		last[a.Key] = a.ID
	}
	// Each key's newest record had a notice, so every record of every key was claimed.
	require.Equal(t, len(recs), len(seen))
	var pending int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from sidecar.changes where processed_at is null`).Scan(&pending))
	require.Zero(t, pending)
	var one, two int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) filter (where by = 'one'), count(*) filter (where by = 'two')
		from scratch_applied`).Scan(&one, &two))
	t.Logf("applied by one: %d, by two: %d (a claim takes every pending record of its keys up to its newest notice)", one, two)
}

// A notice can arrive before its transaction is visible (logical decoding sends the
// commit before the committing backend leaves the running transactions). The claim
// tries again a moment later instead of leaving the record to the next catch-up:
// here the notice is sent while the record's transaction is still open, and the
// transaction commits 30 ms later.
func TestClaimWaitsForANoticeAheadOfItsCommit(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `create table scratch_applied (n bigserial primary key, change_id bigint not null, row_key text not null,
		by text not null, i int not null)`)
	require.NoError(t, err)
	p := pipeline.New(pipeline.Config{BatchSize: 10, BatchWait: time.Millisecond}, db.Pool,
		func() []pipeline.Handler { return []pipeline.Handler{applier{name: "one"}} }, nil, testlog.New(t), nil)
	p.Start(ctx)
	defer p.Stop()

	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	var id int64
	require.NoError(t, tx.QueryRow(ctx, `insert into sidecar.changes (row_key, table_name, op, actor_role, new_row)
		values ('k', 't', 'UPDATE', 'service', '{"i": 1}') returning id`).Scan(&id))
	done, err := p.Send(ctx, &change.Event{Source: change.SourceReplication, Schema: "sidecar", Table: "changes",
		Op: change.Insert, Notice: true, ID: id, RowKey: "k"})
	require.NoError(t, err)
	time.Sleep(30 * time.Millisecond) // well after the first claim, within the retries
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, (<-done).Err)

	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from scratch_applied where change_id = $1`, id).Scan(&n))
	require.Equal(t, 1, n, "the record's effect is written by the batch its notice started")
	var pending bool
	require.NoError(t, db.Pool.QueryRow(ctx, `select processed_at is null from sidecar.changes where id = $1`, id).Scan(&pending))
	require.False(t, pending)
}
