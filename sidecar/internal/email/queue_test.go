package email

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

func TestQueueStateMachineEmails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.settings(t, `admin_recipients = '{a1@example.com,a2@example.com}'`)

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
	f.settings(t, `per_recipient_limit = 2, admin_recipients = '{}'`)
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
	f.settings(t, `enabled = false`)
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
		Key: key, Old: old, New: row, At: time.Now()}
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
	f.settings(t, `per_recipient_limit = 2, admin_recipients = '{Ops@Example.com}'`)
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
	require.NoError(t, queueInTx(ctx, f, f.queue, evs...))
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
	require.NoError(t, queueInTx(ctx, f, f.queue, append(evs, statusEvent(t, f, a, "inactive", "active", "a5"))...))
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
	f.settings(t, `per_recipient_limit = 1, admin_recipients = '{}'`)
	id := f.newTalent(t, "Hu", "hu@example.com")
	other := NewQueuer(f.live, nil, testlog.New(t))

	txA := openBatch(t, f, statusEvent(t, f, id, "draft", "submitted", "x1"))

	// The second instance waits on the lock until the first commits.
	waitsFor(t, f, txA, other, statusEvent(t, f, id, "submitted", "approved", "x2"))
	require.Equal(t, map[string]string{"x1:welcome:hu@example.com": "queued", "x2:approval:hu@example.com": "failed"},
		f.statuses(t))
}

// openBatch queues ev with f.queue in a transaction it leaves open (holding the
// flood locks), for the test to commit; it is rolled back at cleanup otherwise.
func openBatch(t *testing.T, f *fixture, ev *change.Event) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	require.NoError(t, f.queue.Handle(ctx, tx, ev))
	require.NoError(t, f.queue.Flush(ctx, tx))
	return tx
}

// queueInTx queues evs with q in one transaction, as one pipeline batch.
func queueInTx(ctx context.Context, f *fixture, q *Queuer, evs ...*change.Event) error {
	return pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		for _, ev := range evs {
			if err := q.Handle(ctx, tx, ev); err != nil {
				return err
			}
		}
		return q.Flush(ctx, tx)
	})
}

// waitsFor queues ev with q in its own transaction, checks that it waits on a flood
// lock held by txA, commits txA and waits for ev's transaction to commit.
func waitsFor(t *testing.T, f *fixture, txA pgx.Tx, q *Queuer, ev *change.Event) {
	t.Helper()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- queueInTx(ctx, f, q, ev) }()
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

// The flood count looks up each talent's few emails, not every email a recipient
// ever received. The data has the shape of a busy day: 2,000 talents with a few
// emails each, and one admin address that received a notice about every one of them,
// which the planner cannot see from a parameter (given the recipient as an index
// condition it chose a recipient index and read all of the admin's notices for every
// talent).
func TestQueueFloodCountReadsOnlyTheTalentsEmails(t *testing.T) {
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
		select p.id, t::public.email_type, case t when 'admin_new_submission' then 'ops@example.com' else upper(p.email) end,
		       's', 'c', 'sent', p.id || t, now() - (k || ' minutes')::interval
		  from p, unnest('{welcome,admin_new_submission,approval,activation}'::text[]) with ordinality x(t, k);
		analyze email_notifications`)
	require.NoError(t, err)
	// A full batch of talents (the default BATCH_SIZE); the first three are checked below.
	rows, err := f.pool.Query(ctx, `select id::text from talent_profiles order by email = 'user1@example.com' desc,
		email = 'user2@example.com' desc, email = 'user3@example.com' desc, email limit 500`)
	require.NoError(t, err)
	batch, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, batch, 500)
	talents := batch[:3]

	plan := testdb.ExplainAnalyze(t, f.pool, scanSQL, batch, []int{3600})
	t.Log(plan.Text)
	require.Contains(t, plan.Text, "email_notifications_talent_profile_idx")
	require.NotContains(t, plan.Text, "Seq Scan")
	require.LessOrEqual(t, plan.RowsRead("email_notifications"), 500*4.0, "email rows read: the talents' four each")
	require.LessOrEqual(t, plan.RowsRead("talent_profiles"), 500.0)

	// And the counts are right: each talent's mail per recipient in the window (the
	// fourth, 4 minutes old, is outside a 200 s window), and a missing talent is gone.
	missing := "00000000-0000-4000-8000-000000000000"
	rows, err = f.pool.Query(ctx, scanSQL, append(talents, missing), []int{3600, 200})
	require.NoError(t, err)
	got := map[string]int{}
	var secs, n *int
	var talent string
	var l *string
	var exists bool
	_, err = pgx.ForEachRow(rows, []any{&talent, &exists, &secs, &l, &n}, func() error {
		k := talent
		if l != nil {
			k += fmt.Sprintf(" %d %s", *secs, *l)
			got[k] = *n
		}
		if !exists {
			got[k+" gone"] = 0
		}
		return nil
	})
	require.NoError(t, err)
	want := map[string]int{missing + " gone": 0}
	for i, tal := range talents {
		user := fmt.Sprintf("user%d@example.com", i+1)
		want[tal+" 3600 "+user] = 3
		want[tal+" 3600 ops@example.com"] = 1
		want[tal+" 200 "+user] = 2
		want[tal+" 200 ops@example.com"] = 1
	}
	require.Equal(t, want, got)
}

// An admin's notices are limited per talent, and so locked per talent: two
// instances queueing notices about different talents do not wait for each other,
// while a notice about the same talent waits and counts the first.
func TestQueueAdminNoticesLockPerTalent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.settings(t, `per_recipient_limit = 1, admin_recipients = '{ops@example.com}'`)
	a := f.newTalent(t, "Ka", "ka@example.com")
	b := f.newTalent(t, "Lu", "lu@example.com")

	txA := openBatch(t, f, statusEvent(t, f, a, "draft", "submitted", "k1"))

	// Another talent's submission, from another instance, commits while txA is open.
	other := NewQueuer(f.live, nil, testlog.New(t))
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, queueInTx(octx, f, other, statusEvent(t, f, b, "draft", "submitted", "l1")),
		"a notice about another talent must not wait for txA's locks")

	// The same talent again: waits for txA, then counts its notice.
	waitsFor(t, f, txA, other, statusEvent(t, f, a, "draft", "submitted", "k2"))
	require.Equal(t, map[string]string{
		"k1:welcome:ka@example.com": "queued", "k1:admin_new_submission:ops@example.com": "queued",
		"l1:welcome:lu@example.com": "queued", "l1:admin_new_submission:ops@example.com": "queued",
		"k2:welcome:ka@example.com": "failed", "k2:admin_new_submission:ops@example.com": "failed",
	}, f.statuses(t))
}

// The sender is woken once a transaction that queued an email to send commits, and
// not for a rolled-back transaction or one whose emails are all suppressed.
func TestQueueWakesSenderAfterCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	wakes := 0
	q := NewQueuer(f.live, func() { wakes++ }, testlog.New(t))
	id := f.newTalent(t, "Io", "io@example.com")
	run := func(ev *change.Event, commit bool) {
		t.Helper()
		tx, err := f.pool.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, q.Handle(ctx, tx, ev))
		require.NoError(t, q.Flush(ctx, tx))
		require.Zero(t, wakes, "no wake before the commit")
		if !commit {
			require.NoError(t, tx.Rollback(ctx))
			q.Discard()
			return
		}
		require.NoError(t, tx.Commit(ctx))
		q.Committed(ctx)
	}
	run(statusEvent(t, f, id, "draft", "submitted", "w1"), false)
	q.Committed(ctx) // a later batch without emails
	require.Zero(t, wakes, "a rolled-back transaction wakes nobody")

	run(statusEvent(t, f, id, "draft", "submitted", "w2"), true)
	require.Equal(t, 1, wakes)
	q.Committed(ctx)
	require.Equal(t, 1, wakes, "one wake per transaction that queued")

	f.settings(t, `enabled = false`)
	wakes = 0
	run(statusEvent(t, f, id, "submitted", "approved", "w3"), true)
	require.Zero(t, wakes, "nothing to send: no wake")
	require.Equal(t, "failed", f.statuses(t)["w3:approval:io@example.com"])
}

// A talent deleted before the sidecar handles its earlier change (a backlog, say)
// gets no email, and the batch still commits: its rows are recorded as suppressed,
// without the talent (as its deletion leaves references), next to the other talents'
// emails, which are queued as usual. Redelivered, the batch adds nothing.
func TestQueueDeletedTalentIsSuppressed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.settings(t, `admin_recipients = '{ops@example.com}'`)
	gone := f.newTalent(t, "Mo", "mo@example.com")
	kept := f.newTalent(t, "Ny", "ny@example.com")
	evs := []*change.Event{
		statusEvent(t, f, gone, "draft", "submitted", "m1"),
		statusEvent(t, f, kept, "draft", "submitted", "n1"),
	}
	_, err := f.pool.Exec(ctx, `delete from talent_profiles where id = $1::uuid`, gone)
	require.NoError(t, err)

	for range 2 {
		require.NoError(t, queueInTx(ctx, f, f.queue, evs...))
	}
	require.Equal(t, map[string]string{
		"m1:welcome:mo@example.com": "failed", "m1:admin_new_submission:ops@example.com": "failed",
		"n1:welcome:ny@example.com": "queued", "n1:admin_new_submission:ops@example.com": "queued",
	}, f.statuses(t))
	var orphans int
	require.NoError(t, f.pool.QueryRow(ctx, `select count(*) from email_notifications
		where idempotency_key like 'm1:%' and talent_profile_id is null
		  and last_error = 'suppressed: the talent was deleted before this email was queued'`).Scan(&orphans))
	require.Equal(t, 2, orphans)
}

// The queued emails name their talent without a foreign key (migration
// 20261122000200); the batch's lookup of the talent locks it as one would. While the
// batch is uncommitted the talent cannot be deleted; once it commits, deleting the
// talent keeps the emails and sets their reference to null.
func TestQueueLocksTalentAgainstDeletion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.newTalent(t, "Lu", "lu@example.com")
	ev := statusEvent(t, f, id, "submitted", "approved", "l1")
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // on failure, before the database is dropped
	require.NoError(t, f.queue.Handle(ctx, tx, ev))
	require.NoError(t, f.queue.Flush(ctx, tx))
	_, err = f.pool.Exec(ctx, `set lock_timeout = '200ms'; delete from talent_profiles where id = '`+id+`'`)
	require.Error(t, err)
	require.Contains(t, err.Error(), "lock timeout", "the deletion must wait for the uncommitted emails")
	require.NoError(t, tx.Commit(ctx))
	_, err = f.pool.Exec(ctx, `delete from talent_profiles where id = $1::uuid`, id)
	require.NoError(t, err)
	var n, named int
	require.NoError(t, f.pool.QueryRow(ctx, `select count(*), count(talent_profile_id) from email_notifications
		where idempotency_key like 'l1:%'`).Scan(&n, &named))
	require.Equal(t, 1, n, "the approval email outlives the talent")
	require.Zero(t, named, "and no longer names it")
}

// A batch's emails are written with COPY, so Postgres inserts them a page at a time:
// the WAL holds multi-row heap inserts and no row-by-row one (pg_walinspect), which
// every logical decoder of the database reads fewer of. A volatile default added to
// email_notifications, or a row trigger, would make Postgres fall back to rows.
// The ids are version 4 UUIDs, as gen_random_uuid() makes them.
func TestQueueInsertsAPageAtATime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.settings(t, `admin_recipients = '{ops@example.com}'`)
	var evs []*change.Event
	for i := range 30 {
		id := f.newTalent(t, fmt.Sprint("T", i), fmt.Sprintf("t%d@example.com", i))
		evs = append(evs, statusEvent(t, f, id, "draft", "submitted", fmt.Sprint("p", i)))
	}
	_, err := f.pool.Exec(ctx, `create extension if not exists pg_walinspect`)
	require.NoError(t, err)
	var from string
	require.NoError(t, f.pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&from))
	require.NoError(t, queueInTx(ctx, f, f.queue, evs...))

	// Up to the flushed position (pg_walinspect refuses a later one; the commit
	// above flushed its own records).
	got := map[string]int{}
	rows, err := f.pool.Query(ctx, `select record_type, count(*)::int from pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn())
		where resource_manager in ('Heap', 'Heap2') and record_type ~ 'INSERT'
		  and block_ref like format('%% rel %s/%s/%s %%', (select dattablespace from pg_database where datname = current_database()),
		                            (select oid from pg_database where datname = current_database()),
		                            pg_relation_filenode('public.email_notifications'))
		group by 1`, from)
	require.NoError(t, err)
	var kind string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&kind, &n}, func() error { got[kind] = n; return nil })
	require.NoError(t, err)
	require.NotEmpty(t, got, "no heap insert into email_notifications found")
	for kind := range got {
		require.Contains(t, kind, "MULTI_INSERT", "heap insert records while queueing 60 emails: %v", got)
	}

	var queued, v4 int
	require.NoError(t, f.pool.QueryRow(ctx, `select count(*), count(*) filter (where substr(id::text, 15, 1) = '4'
		and substr(id::text, 20, 1) in ('8', '9', 'a', 'b')) from email_notifications`).Scan(&queued, &v4))
	require.Equal(t, 60, queued)
	require.Equal(t, 60, v4)
}

// settings changes email_settings (set is the SET clause) and loads the result, as
// the sidecar does when the change arrives.
func (f *fixture) settings(t testing.TB, set string) {
	t.Helper()
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set `+set)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
}

// A queued email stores the talent as it was at the change, and nothing that comes
// from the settings: the portal links and company name are those in force when it
// is sent. Variables a row does store (an older queue format) are kept, and without
// valid settings a row that needs them waits (ErrNoSettings, which the sender
// retries) instead of going out with empty links.
func TestQueueStoresTheTalentLinksComeAtSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.settings(t, `portal_url = 'https://old.example.com', from_name = 'Old Co'`)
	id := f.newTalent(t, "Pia", "pia@example.com")
	require.NoError(t, queueInTx(ctx, f, f.queue, statusEvent(t, f, id, "submitted", "approved", "p1")))

	var stored map[string]string
	require.NoError(t, f.pool.QueryRow(ctx, `select template_vars from email_notifications`).Scan(&stored))
	require.Equal(t, map[string]string{"TalentName": "Pia", "TalentEmail": "pia@example.com", "TalentID": id,
		"Status": "approved", "PreviousStatus": "submitted"}, stored)

	f.settings(t, `portal_url = 'https://new.example.com/', from_name = 'New Co'`)
	n := f.notifications(t)
	require.Len(t, n, 1)
	require.Contains(t, n[0].HTML, "https://new.example.com/profile")
	require.Contains(t, n[0].Text, "New Co")
	require.NotContains(t, n[0].HTML+n[0].Text, "old.example.com")

	old := []byte(`{"TalentName":"Pia","TalentID":"` + id + `","ProfileURL":"https://kept.example.com/me","CompanyName":"Kept Co","PortalURL":"https://kept.example.com"}`)
	r, err := f.live.RenderStored(approval, old)
	require.NoError(t, err)
	require.Contains(t, r.HTML, "https://kept.example.com/me")
	require.Contains(t, r.Text, "Kept Co")

	unset := &Config{Templates: f.live.Current().Templates}
	_, err = unset.RenderStored(approval, []byte(`{"TalentName":"Pia"}`))
	require.ErrorIs(t, err, ErrNoSettings)
	_, err = unset.RenderStored(approval, old)
	require.NoError(t, err, "a row that stored its links does not need the settings")
}
