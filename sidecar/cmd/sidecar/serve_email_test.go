package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

const sendGridKey = "SG.test-key-for-the-fake"

func emailEnv(t testing.TB, db *testdb.DB, fake *sendgridfake.Server) map[string]string {
	return sidecartest.Env(t, db.URL, map[string]string{
		"EMAIL_PROVIDER":      "sendgrid",
		"SENDGRID_API_KEY":    sendGridKey,
		"SENDGRID_BASE_URL":   fake.URL,
		"EMAIL_POLL_INTERVAL": "50ms",
	})
}

// TestEmailEndToEnd: a talent submits and an admin approves, through PostgREST-shaped
// SQL; the welcome, admin-notification and approval emails reach the SendGrid fake
// once each, as valid v3 requests with the right recipients and content. The outbox
// polls once a minute here, so the emails arriving within the wait below shows that
// the pipeline wakes the sender when its transaction commits.
func TestEmailEndToEnd(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()

	talentID := "00000000-0000-4000-8000-0000000e2e01"
	addAdmins(t, db.Pool)
	_, err := db.Pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'ada@example.com')`, talentID)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `update public.email_settings set admin_recipients = '{reviews@example.com}'`)
	require.NoError(t, err)

	env := emailEnv(t, db, fake)
	env["EMAIL_POLL_INTERVAL"] = "1m"
	p := sidecartest.Start(t, sidecartest.Binary(t), env)
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		ok, state := p.Ready()
		return ok && state == "streaming", nil
	}))

	var profileID string
	require.NoError(t, testdb.AsRole(ctx, db.Pool, "authenticated", talentID, "ada@example.com", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `insert into public.talent_profiles (name, email) values ('Ada Lovelace', 'ada@example.com') returning id`).Scan(&profileID)
	}))
	require.NoError(t, testdb.AsRole(ctx, db.Pool, "authenticated", talentID, "ada@example.com", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update public.talent_profiles set status = 'submitted' where id = $1`, profileID)
		return err
	}))
	require.NoError(t, testdb.AsRole(ctx, db.Pool, "authenticated", adminID, "admin@example.com", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update public.talent_profiles set status = 'approved' where id = $1`, profileID)
		return err
	}))

	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		return len(fake.Accepted()) >= 3, nil
	}), "three emails should reach SendGrid; got %d", len(fake.Accepted()))
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive by now
	mails := fake.Accepted()
	require.Len(t, mails, 3)
	require.Empty(t, fake.Invalid(), "every request must be a valid v3 mail/send")

	byType := map[string]sendgridfake.Mail{}
	for _, m := range mails {
		byType[m.CustomArgs["email_type"]] = m
	}
	require.Equal(t, []string{"ada@example.com"}, byType["welcome"].To)
	require.Equal(t, []string{"reviews@example.com"}, byType["admin_new_submission"].To)
	require.Equal(t, []string{"ada@example.com"}, byType["approval"].To)
	require.Contains(t, byType["welcome"].Text+byType["welcome"].HTML, "Ada Lovelace")
	require.Contains(t, byType["admin_new_submission"].Text, "Ada Lovelace")
	require.NotEmpty(t, byType["approval"].Subject)

	var sent int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.email_notifications
		where talent_profile_id = $1 and status = 'sent' and provider_message_id is not null`, profileID).Scan(&sent))
	require.Equal(t, 3, sent)
	var audit int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.admin_actions
		where talent_profile_id = $1 and action_type = 'approve' and admin_user_id = $2`, profileID, adminID).Scan(&audit))
	require.Equal(t, 1, audit)
}

// TestEmailUnderCrashes: admins approve talents while the sidecar is killed with
// SIGKILL at random moments. Every expected email exists once in the database and
// reaches the fake; repeats at the provider are bounded by the number of crashes
// (a crash between sending and recording may repeat one email per in-flight send).
func TestEmailUnderCrashes(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()
	ids := seedTalents(t, db.Pool, 40)

	bin := sidecartest.Binary(t)
	env := emailEnv(t, db, fake)
	env["EMAIL_CONCURRENCY"] = "2"
	p := sidecartest.Start(t, bin, env)
	// A slot sees only changes made after it exists: let the first instance create it.
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		ok, state := p.Ready()
		return ok && state == "streaming", nil
	}))

	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, id := range ids {
			_, err := transition(ctx, db.Pool, id, "approved")
			if err != nil {
				t.Errorf("approving %s: %v", id, err)
				return
			}
			time.Sleep(60 * time.Millisecond)
		}
	}()
	crashes := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Duration(100+rand.IntN(300)) * time.Millisecond):
			p.Kill()
			crashes++
			p = sidecartest.Start(t, bin, env)
		}
	}
	// A row claimed by a sender that was killed is retried when its lease ends
	// (send timeout + 30 s), so allow for one lease after the last crash.
	err := sidecartest.WaitFor(ctx, 100*time.Second, func() (bool, error) {
		var n int
		err := db.Pool.QueryRow(ctx, `select count(*) from public.email_notifications where email_type = 'approval' and status = 'sent'`).Scan(&n)
		return n == len(ids), err
	})
	if err != nil {
		rows, _ := db.Pool.Query(ctx, `select status, attempts, coalesce(last_error, ''), next_attempt_at - now() from public.email_notifications where status <> 'sent'`)
		for rows.Next() {
			var st, le string
			var at int
			var due time.Duration
			_ = rows.Scan(&st, &at, &le, &due)
			t.Logf("unsent: %s attempts=%d due_in=%s err=%s", st, at, due, le)
		}
		rows.Close()
		var actions, approvals, dead int
		_ = db.Pool.QueryRow(ctx, `select (select count(*) from public.admin_actions), (select count(*) from public.email_notifications where email_type = 'approval'), (select count(*) from public.sidecar_dead_letters)`).Scan(&actions, &approvals, &dead)
		t.Logf("admin_actions=%d approval rows=%d dead letters=%d", actions, approvals, dead)
		rows, _ = db.Pool.Query(ctx, `select reason from public.sidecar_dead_letters limit 5`)
		for rows.Next() {
			var r string
			_ = rows.Scan(&r)
			t.Logf("dead letter: %s", r)
		}
		rows.Close()
	}
	require.NoError(t, err, "every approval email should be sent")

	var rows, distinct int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*), count(distinct talent_profile_id)
		from public.email_notifications where email_type = 'approval'`).Scan(&rows, &distinct))
	require.Equal(t, len(ids), rows, "one approval row per talent in the database")
	require.Equal(t, len(ids), distinct)

	time.Sleep(500 * time.Millisecond)
	perKey := map[string]int{}
	for _, m := range fake.Accepted() {
		if m.CustomArgs["email_type"] == "approval" {
			perKey[m.CustomArgs["idempotency_key"]]++
		}
	}
	require.Len(t, perKey, len(ids), "every approval reached the provider")
	repeats := 0
	var repeated []string
	for k, n := range perKey {
		if n > 1 {
			repeats += n - 1
			repeated = append(repeated, fmt.Sprintf("%s×%d", k, n))
		}
	}
	sort.Strings(repeated)
	t.Logf("%d crashes, %d repeated sends at the provider %s", crashes, repeats, strings.Join(repeated, " "))
	require.LessOrEqual(t, repeats, crashes*2, "repeats are bounded by crashes × in-flight sends (EMAIL_CONCURRENCY=2)")
	require.Empty(t, fake.Invalid())
}
