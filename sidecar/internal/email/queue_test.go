package email

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

func TestQueueStateMachineEmails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set admin_recipients = '{a1@example.com,a2@example.com}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))

	id := f.newTalent(t, "Ana <b>Lima</b>", "ana@example.com")
	ev := f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")
	f.move(t, id, "active", "")
	f.move(t, id, "inactive", "")
	f.move(t, id, "active", "")

	got := f.notifications(t)
	var kinds []string
	for _, n := range got {
		kinds = append(kinds, n.Type+"→"+n.To)
		require.Equal(t, "queued", n.Status)
	}
	require.ElementsMatch(t, []string{
		"welcome→ana@example.com", "admin_new_submission→a1@example.com", "admin_new_submission→a2@example.com",
		"approval→ana@example.com", "activation→ana@example.com", "deactivation→ana@example.com", "activation→ana@example.com",
	}, kinds)
	for _, n := range got {
		if n.Type == "welcome" {
			require.Equal(t, ev.Key+":welcome:ana@example.com", n.Key)
			require.Contains(t, n.HTML, "Ana &lt;b&gt;Lima&lt;/b&gt;")
			require.Contains(t, n.Text, "Ana <b>Lima</b>")
			require.Contains(t, n.Subject, "Northlight Talent")
		}
	}

	// The same event again (redelivery, or the other input) queues nothing more.
	handle(t, f.pool, ev, f.live, f.queue)
	require.Len(t, f.notifications(t), len(got))
}

func TestQueueRejectionCarriesReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.newTalent(t, "Bo", "bo@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "rejected", "Samples were too quiet & short")
	var rej *notification
	for _, n := range f.notifications(t) {
		if n.Type == "rejection" {
			rej = &n
		}
	}
	require.NotNil(t, rej)
	require.Contains(t, rej.HTML, "Samples were too quiet &amp; short")
	require.Contains(t, rej.Text, "Samples were too quiet & short")
	// rejected -> draft sends nothing.
	before := len(f.notifications(t))
	f.move(t, id, "draft", "")
	require.Len(t, f.notifications(t), before)
}

func TestQueueFloodControlRecordsHeldBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set per_recipient_limit = 2, admin_recipients = '{}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	id := f.newTalent(t, "Cy", "cy@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")
	f.move(t, id, "active", "")
	f.move(t, id, "inactive", "")
	got := f.notifications(t)
	require.Len(t, got, 4, "held-back emails are recorded, not lost")
	statuses := map[string]int{}
	for _, n := range got {
		statuses[n.Status]++
		if n.Status == "failed" {
			require.Contains(t, n.LastError, "held back: cy@example.com already received 2 emails")
		}
	}
	require.Equal(t, map[string]int{"queued": 2, "failed": 2}, statuses)
}

func TestQueueSwitchedOffIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_templates set enabled = false where name = 'approval'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	id := f.newTalent(t, "Di", "di@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")
	_, err = f.pool.Exec(ctx, `update email_settings set enabled = false`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	f.move(t, id, "active", "")
	for _, n := range f.notifications(t) {
		switch n.Type {
		case "approval":
			require.Equal(t, "failed", n.Status)
			require.Equal(t, "suppressed: template approval is disabled", n.LastError)
		case "activation":
			require.Equal(t, "failed", n.Status)
			require.Equal(t, "suppressed: email is switched off in email_settings", n.LastError)
		default:
			require.Equal(t, "queued", n.Status, n.Type)
		}
	}
}

// statusEvent is a status change of a talent that exists, without writing it (the
// queuer only reads the event).
func statusEvent(t *testing.T, f *fixture, id, from, to, key string) *change.Event {
	t.Helper()
	row := rowJSON(t, f.pool, `select to_jsonb(p) from talent_profiles p where id = $1::uuid`, id)
	old := change.Row{}
	for k, v := range row {
		old[k] = v
	}
	old["status"], row["status"] = from, to
	return &change.Event{Source: change.SourceReplication, Schema: "public", Table: "talent_profiles", Op: change.Update,
		Key: key, Old: old, New: row, CommitTime: time.Now()}
}

func TestQueueHandleDoesNotTouchTheDatabase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.newTalent(t, "Ed", "ed@example.com")
	// A nil transaction: any statement in Handle would panic.
	require.NoError(t, f.queue.Handle(context.Background(), nil, statusEvent(t, f, id, "draft", "submitted", "k1")))
	f.queue.Discard()
	require.NoError(t, pgx.BeginFunc(context.Background(), f.pool, func(tx pgx.Tx) error {
		return f.queue.Flush(context.Background(), tx)
	}))
	require.Empty(t, f.notifications(t), "Discard forgets what Handle buffered")
}

func TestQueueFloodControlWithinOneBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set per_recipient_limit = 2, admin_recipients = '{Ops@Example.com}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	a := f.newTalent(t, "Fa", "fa@example.com")
	b := f.newTalent(t, "Gu", "gu@example.com")
	// One batch: fa moves four times (two over the limit); both submit, so the admin
	// receives one notice per talent (counted per talent, never held back here);
	// fa's first change is delivered twice (both inputs) and counts once.
	first := statusEvent(t, f, a, "draft", "submitted", "a1")
	evs := []*change.Event{
		first, first,
		statusEvent(t, f, b, "draft", "submitted", "b1"),
		statusEvent(t, f, a, "submitted", "approved", "a2"),
		statusEvent(t, f, a, "approved", "active", "a3"),
		statusEvent(t, f, a, "active", "inactive", "a4"),
	}
	require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		for _, ev := range evs {
			if err := f.queue.Handle(ctx, tx, ev); err != nil {
				return err
			}
		}
		return f.queue.Flush(ctx, tx)
	}))
	got := map[string]string{}
	for _, n := range f.notifications(t) {
		got[n.Key] = n.Status
		if n.Status == "failed" {
			require.Contains(t, n.LastError, "held back: fa@example.com already received 2 emails")
		}
	}
	require.Equal(t, map[string]string{
		"a1:welcome:fa@example.com": "queued", "a1:admin_new_submission:ops@example.com": "queued",
		"b1:welcome:gu@example.com": "queued", "b1:admin_new_submission:ops@example.com": "queued",
		"a2:approval:fa@example.com": "queued", "a3:activation:fa@example.com": "failed",
		"a4:deactivation:fa@example.com": "failed",
	}, got)

	// The next batch counts what the last one queued; a redelivered batch adds nothing.
	require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		for _, ev := range append(evs, statusEvent(t, f, a, "inactive", "active", "a5")) {
			if err := f.queue.Handle(ctx, tx, ev); err != nil {
				return err
			}
		}
		return f.queue.Flush(ctx, tx)
	}))
	all := f.notifications(t)
	require.Len(t, all, 8)
	for _, n := range all {
		if n.Key == "a5:activation:fa@example.com" {
			require.Equal(t, "failed", n.Status)
			require.Contains(t, n.LastError, "held back")
		}
	}
}

// Two pipelines (two sidecar instances) queueing to one recipient at the same time:
// the recipient's lock makes the second count the first one's email.
func TestQueueFloodControlAcrossConcurrentInstances(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set per_recipient_limit = 1, admin_recipients = '{}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	id := f.newTalent(t, "Hu", "hu@example.com")
	other := NewQueuer(f.live, testlog.New(t))

	txA, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer txA.Rollback(ctx)
	require.NoError(t, f.queue.Handle(ctx, txA, statusEvent(t, f, id, "draft", "submitted", "x1")))
	require.NoError(t, f.queue.Flush(ctx, txA))

	// The second instance waits on the lock until the first commits.
	waitsFor(t, f, txA, other, statusEvent(t, f, id, "submitted", "approved", "x2"))
	require.Equal(t, map[string]string{"x1:welcome:hu@example.com": "queued", "x2:approval:hu@example.com": "failed"},
		f.statuses(t))
}

// waitsFor queues ev with q in its own transaction, checks that it waits on a flood
// lock held by txA, commits txA and waits for ev's transaction to commit.
func waitsFor(t *testing.T, f *fixture, txA pgx.Tx, q *Queuer, ev *change.Event) {
	t.Helper()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		done <- pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			if err := q.Handle(ctx, tx, ev); err != nil {
				return err
			}
			return q.Flush(ctx, tx)
		})
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		err := f.pool.QueryRow(ctx, `select exists (select 1 from pg_locks where locktype = 'advisory' and not granted)`).Scan(&waiting)
		return err == nil && waiting
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, txA.Commit(ctx))
	require.NoError(t, <-done)
}

// statuses maps each email's key to its status.
func (f *fixture) statuses(t testing.TB) map[string]string {
	got := map[string]string{}
	for _, n := range f.notifications(t) {
		got[n.Key] = n.Status
	}
	return got
}

// The flood count is a range scan of the (lower(recipient_email), created_at) index
// for a recipient, and a lookup of the talent's emails for an admin's notices about
// one talent, not a scan of every email ever sent. The data has the shape of a busy
// day: 2,000 talents with a few emails each, and one admin address that received a
// notice about every one of them, which the planner cannot see from a parameter
// (given the recipient as an index condition it chose the recipient index and read
// all of the admin's notices for every talent).
func TestQueueFloodCountUsesRecipientIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `
		with u as (
		  insert into auth.users (id, email)
		  select gen_random_uuid(), 'user' || i || '@example.com' from generate_series(1, 2000) i
		  returning id, email),
		p as (
		  insert into talent_profiles (user_id, name, email) select id, email, email from u returning id, email)
		insert into email_notifications (talent_profile_id, email_type, recipient_email, subject, content, status, idempotency_key, created_at)
		select p.id, t, case t when 'admin_new_submission' then 'ops@example.com' else upper(p.email) end,
		       's', 'c', 'sent', p.id || t, now() - (k || ' minutes')::interval
		  from p, unnest('{welcome,admin_new_submission,approval,activation}'::text[]) with ordinality x(t, k);
		analyze email_notifications`)
	require.NoError(t, err)
	var talent string
	require.NoError(t, f.pool.QueryRow(ctx, `select id::text from talent_profiles where email = 'user3@example.com'`).Scan(&talent))
	rows, err := f.pool.Query(ctx, `explain (analyze, buffers, format json) `+countSQL, []int{3600},
		[]string{"user1@example.com", "USER2@example.com"}, []string{"ops@example.com"}, []string{talent})
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := strings.Join(lines, "\n")
	t.Log(plan)
	require.Contains(t, plan, "email_notifications_recipient_created_idx")
	require.Contains(t, plan, "email_notifications_talent_profile_idx")
	require.NotContains(t, plan, "Seq Scan")
	// Rows read and thrown away: none of the admin's other notices. (The talent's own
	// emails are matched in the aggregate, which EXPLAIN does not count here.)
	var tree any
	require.NoError(t, json.Unmarshal([]byte(plan), &tree))
	require.Zero(t, rowsRemoved(tree), "rows read and filtered out")
}

// rowsRemoved sums "Rows Removed by Filter" over an EXPLAIN (FORMAT JSON) tree.
func rowsRemoved(node any) float64 {
	var n float64
	switch v := node.(type) {
	case map[string]any:
		if r, ok := v["Rows Removed by Filter"].(float64); ok {
			loops, _ := v["Actual Loops"].(float64)
			n += r * loops
		}
		for _, c := range v {
			n += rowsRemoved(c)
		}
	case []any:
		for _, c := range v {
			n += rowsRemoved(c)
		}
	}
	return n
}

// An admin's notices are limited per talent, and so locked per talent: two
// instances queueing notices about different talents do not wait for each other,
// while a notice about the same talent waits and counts the first.
func TestQueueAdminNoticesLockPerTalent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set per_recipient_limit = 1, admin_recipients = '{ops@example.com}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	a := f.newTalent(t, "Ka", "ka@example.com")
	b := f.newTalent(t, "Lu", "lu@example.com")

	txA, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer txA.Rollback(ctx)
	require.NoError(t, f.queue.Handle(ctx, txA, statusEvent(t, f, a, "draft", "submitted", "k1")))
	require.NoError(t, f.queue.Flush(ctx, txA))

	// Another talent's submission, from another instance, commits while txA is open.
	other := NewQueuer(f.live, testlog.New(t))
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, pgx.BeginFunc(octx, f.pool, func(tx pgx.Tx) error {
		if err := other.Handle(octx, tx, statusEvent(t, f, b, "draft", "submitted", "l1")); err != nil {
			return err
		}
		return other.Flush(octx, tx)
	}), "a notice about another talent must not wait for txA's locks")

	// The same talent again: waits for txA, then counts its notice.
	waitsFor(t, f, txA, other, statusEvent(t, f, a, "draft", "submitted", "k2"))
	require.Equal(t, map[string]string{
		"k1:welcome:ka@example.com": "queued", "k1:admin_new_submission:ops@example.com": "queued",
		"l1:welcome:lu@example.com": "queued", "l1:admin_new_submission:ops@example.com": "queued",
		"k2:welcome:ka@example.com": "failed", "k2:admin_new_submission:ops@example.com": "failed",
	}, f.statuses(t))
}
