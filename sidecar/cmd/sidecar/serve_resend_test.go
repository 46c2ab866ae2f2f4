package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// TestAdminResendEmail: an email SendGrid refused is recorded failed by the running
// sidecar; a talent cannot re-send it; an admin re-sends it with the
// admin_resend_email RPC (PostgREST-shaped), and the same binary's outbox claims it
// again and delivers it once.
func TestAdminResendEmail(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()
	addAdmins(t, db.Pool)
	talentID := "00000000-0000-4000-8000-0000000e5e01"
	_, err := db.Pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'ada@example.com')`, talentID)
	require.NoError(t, err)

	var emailID string
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.email_notifications
		(email_type, recipient_email, subject, content, text_content, idempotency_key, from_email, from_name)
		values ('approval', 'ada@example.com', 'You are approved', '<p>Welcome aboard</p>', 'Welcome aboard', 'test:resend:e2e',
		        'talent@example.com', 'Talent team')
		returning id::text`).Scan(&emailID))

	fake.FailNext(sendgridfake.BadRequest)
	env := emailEnv(t, db, fake)
	env["EMAIL_MAX_ATTEMPTS"] = "1"
	sidecartest.Start(t, sidecartest.Binary(t), env)

	status := func() (string, int) {
		var s string
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `select status, attempts from public.email_notifications where id = $1`, emailID).Scan(&s, &n))
		return s, n
	}
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		s, _ := status()
		return s == "failed", nil
	}), "the refused email should be recorded failed")
	require.Empty(t, fake.Accepted())
	require.Equal(t, 1, fake.Requests(), "SendGrid saw the one refused attempt")

	resend := func(sub, mail string) (string, error) {
		var s string
		err := testdb.AsRole(ctx, db.Pool, "authenticated", sub, mail, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select status from public.admin_resend_email($1)`, emailID).Scan(&s)
		})
		return s, err
	}
	_, err = resend(talentID, "ada@example.com")
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "a talent's re-send must fail with a database error, got %v", err)
	require.Equal(t, "42501", pgErr.Code)
	s, _ := status()
	require.Equal(t, "failed", s, "a refused re-send changes nothing")

	got, err := resend(adminID, "admin@example.com")
	require.NoError(t, err)
	require.Equal(t, "queued", got)

	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		s, _ := status()
		return s == "sent" && len(fake.Accepted()) == 1, nil
	}), "the re-sent email should reach SendGrid and be recorded sent")
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive by now
	mails := fake.Accepted()
	require.Len(t, mails, 1)
	require.Equal(t, []string{"ada@example.com"}, mails[0].To)
	require.Equal(t, "You are approved", mails[0].Subject)
	var attempts int
	var provider *string
	require.NoError(t, db.Pool.QueryRow(ctx, `select attempts, provider_message_id from public.email_notifications where id = $1`,
		emailID).Scan(&attempts, &provider))
	require.Equal(t, 1, attempts, "attempts count again from the re-send")
	require.NotNil(t, provider)

	// Sent now: a second re-send is refused (23514), and nothing more is sent.
	_, err = resend(adminID, "admin@example.com")
	require.True(t, errors.As(err, &pgErr))
	require.Equal(t, "23514", pgErr.Code)
	require.Len(t, fake.Accepted(), 1)

	// The re-send is in the audit log once, as the admin's; the refused ones are not.
	var action, admin, changed string
	var n int
	require.NoError(t, sidecartest.WaitFor(ctx, 15*time.Second, func() (bool, error) {
		err := db.Pool.QueryRow(ctx, `select count(*) from public.admin_actions where action_type = 'resend_email'`).Scan(&n)
		return n > 0, err
	}))
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*), min(action_type::text), min(admin_user_id::text), min(changed_columns::text)
		from public.admin_actions where action_type = 'resend_email'`).Scan(&n, &action, &admin, &changed))
	require.Equal(t, 1, n)
	require.Equal(t, adminID, admin)
	require.Contains(t, changed, `"old_status": "failed"`)
	require.Contains(t, changed, `"new_status": "queued"`)
	require.Contains(t, changed, emailID)
}
