package emailsend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/email"
	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

const apiKey = "SG.test-key"

// queueOne inserts a queued email directly (as the Queuer would) and returns its key.
func (f *fixture) queueOne(t testing.TB, key string) {
	t.Helper()
	_, err := f.pool.Exec(context.Background(), `insert into email_notifications
		(email_type, recipient_email, subject, content, text_content, idempotency_key, from_email, from_name, reply_to)
		values ('approval', 'to@example.com', 'Subject', '<p>Hi</p>', 'Hi', $1, 'talent@example.com', 'Northlight', 'help@example.com')`, key)
	require.NoError(t, err)
}

type row struct {
	Status, LastError, ProviderID string
	Attempts                      int
	Sent                          bool
	NextIn                        time.Duration
}

func (f *fixture) row(t testing.TB, key string) row {
	t.Helper()
	var r row
	var next float64
	require.NoError(t, f.pool.QueryRow(context.Background(), `select status, coalesce(last_error,''), coalesce(provider_message_id,''),
		attempts, sent_at is not null, extract(epoch from next_attempt_at - now()) from email_notifications where idempotency_key = $1`, key).
		Scan(&r.Status, &r.LastError, &r.ProviderID, &r.Attempts, &r.Sent, &next))
	r.NextIn = time.Duration(next * float64(time.Second))
	return r
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startOutbox(t testing.TB, f *fixture, p Provider, render Renderer, backlog Backlog, opts Options) *Outbox {
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 40 * time.Millisecond
	}
	o := NewOutbox(f.pool, p, render, backlog, nil, opts, testlog.New(t))
	require.NoError(t, o.Start(context.Background()))
	t.Cleanup(o.Stop)
	return o
}

func TestOutboxSendGridFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		faults       []sendgridfake.Fault
		maxAttempts  int
		wantStatus   string
		wantAttempts int
		wantErr      string
		wantSent     int
	}{
		{name: "accepted", wantStatus: "sent", wantAttempts: 1, wantSent: 1},
		{name: "500 then ok", faults: []sendgridfake.Fault{sendgridfake.ServerError, sendgridfake.ServerError}, wantStatus: "sent", wantAttempts: 3, wantSent: 1},
		{name: "500 until give up", faults: []sendgridfake.Fault{sendgridfake.ServerError, sendgridfake.ServerError, sendgridfake.ServerError}, maxAttempts: 3,
			wantStatus: "failed", wantAttempts: 3, wantErr: "gave up after 3 attempts: sendgrid: 500: internal error"},
		{name: "400 is permanent", faults: []sendgridfake.Fault{sendgridfake.BadRequest}, wantStatus: "failed", wantAttempts: 1,
			wantErr: "sendgrid: 400: personalizations.0.to.0.email: The to email does not contain a valid address."},
		{name: "hang then ok", faults: []sendgridfake.Fault{sendgridfake.Hang}, wantStatus: "sent", wantAttempts: 2, wantSent: 1},
		{name: "hang until give up", faults: []sendgridfake.Fault{sendgridfake.Hang, sendgridfake.Hang}, maxAttempts: 2,
			wantStatus: "failed", wantAttempts: 2, wantErr: "gave up after 2 attempts: timed out after 300ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			fake := sendgridfake.New(apiKey)
			defer fake.Close()
			fake.FailNext(tc.faults...)
			key := "k:" + tc.name
			f.queueOne(t, key)
			reg := prometheus.NewPedanticRegistry()
			o := startOutbox(t, f, newSendGrid(apiKey, fake.URL, 300*time.Millisecond, 4),
				nil, nil, Options{MaxAttempts: tc.maxAttempts, SendTimeout: 300 * time.Millisecond, Registry: reg})
			eventually(t, "final state", func() bool { return f.row(t, key).Status != "queued" })
			r := f.row(t, key)
			// sidecar_email_sends_total: every attempt but the last retried; the last
			// sent or failed (the alert rules read these).
			want := map[string]float64{"sent": float64(tc.wantSent), "retry": float64(tc.wantAttempts - 1), "failed": 0}
			if tc.wantStatus == "failed" {
				want["failed"] = 1
			}
			eventually(t, "the outcome counted", func() bool {
				return testutil.ToFloat64(o.sends.WithLabelValues("sent"))+testutil.ToFloat64(o.sends.WithLabelValues("failed")) == 1
			})
			for outcome, n := range want {
				require.Equal(t, n, testutil.ToFloat64(o.sends.WithLabelValues(outcome)), outcome)
			}
			n, err := testutil.GatherAndCount(reg, "sidecar_email_sends_total")
			require.NoError(t, err)
			require.Equal(t, 3, n, "one series per outcome, registered")
			require.Equal(t, tc.wantStatus, r.Status)
			require.Equal(t, tc.wantAttempts, r.Attempts)
			require.Contains(t, r.LastError, tc.wantErr)
			acc := fake.Accepted()
			require.Len(t, acc, tc.wantSent)
			require.Empty(t, fake.Invalid())
			if tc.wantSent == 1 {
				require.True(t, r.Sent)
				require.Equal(t, acc[0].MessageID, r.ProviderID)
				require.Equal(t, key, acc[0].CustomArgs["idempotency_key"])
				require.Equal(t, []string{"to@example.com"}, acc[0].To)
				require.Equal(t, "talent@example.com", acc[0].From)
				require.Equal(t, "help@example.com", acc[0].ReplyTo)
				require.Equal(t, "Hi", acc[0].Text)
				require.Equal(t, "<p>Hi</p>", acc[0].HTML)
			}
		})
	}
}

func TestOutboxHonoursRateLimitReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	fake.SetRateLimitReset(3 * time.Second)
	fake.FailNext(sendgridfake.RateLimit)
	f.queueOne(t, "rl")
	o := startOutbox(t, f, newSendGrid(apiKey, fake.URL, time.Second, 4), nil, nil, Options{})
	eventually(t, "429 recorded", func() bool { return f.row(t, "rl").LastError != "" })
	r := f.row(t, "rl")
	require.Equal(t, "queued", r.Status)
	require.Contains(t, r.LastError, "429")
	// Backoff alone would retry after ~40ms; the reset header pushes it ~2-3s out.
	require.Greater(t, r.NextIn, 1500*time.Millisecond)
	o.Wake()
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, 1, fake.Requests(), "no retry before X-RateLimit-Reset")
	eventually(t, "sent after reset", func() bool { return f.row(t, "rl").Status == "sent" })
	require.Equal(t, 2, f.row(t, "rl").Attempts)
}

func TestOutboxWrongAPIKeyFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	f.queueOne(t, "badkey")
	startOutbox(t, f, newSendGrid("SG.wrong", fake.URL, time.Second, 4), nil, nil, Options{})
	eventually(t, "failed", func() bool { return f.row(t, "badkey").Status == "failed" })
	require.Contains(t, f.row(t, "badkey").LastError, "401")
	require.Empty(t, fake.Accepted())
}

func TestOutboxExpiredLeaseIsReclaimedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	f.queueOne(t, "crash")
	// A sender that claimed the row and died: attempts counted, lease in the past.
	_, err := f.pool.Exec(context.Background(), `update email_notifications set attempts = 1, next_attempt_at = now() - interval '1 second'`)
	require.NoError(t, err)
	// Two senders (two instances) share the outbox.
	p := newSendGrid(apiKey, fake.URL, time.Second, 4)
	startOutbox(t, f, p, nil, nil, Options{})
	startOutbox(t, f, p, nil, nil, Options{})
	for i := 0; i < 50; i++ {
		f.queueOne(t, "many:"+string(rune('A'+i)))
	}
	eventually(t, "all sent", func() bool {
		var n int
		_ = f.pool.QueryRow(context.Background(), `select count(*) from email_notifications where status <> 'sent'`).Scan(&n)
		return n == 0
	})
	require.Len(t, fake.Accepted(), 51, "two senders never send the same row twice")
	require.Equal(t, 2, f.row(t, "crash").Attempts)
}

func TestOutboxStopIsIdempotentAndWaits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	o := NewOutbox(f.pool, newSendGrid(apiKey, fake.URL, time.Second, 4), nil, nil, nil, Options{Poll: 20 * time.Millisecond}, testlog.New(t))
	o.Stop() // before Start: no-op
	require.NoError(t, o.Start(context.Background()))
	require.Error(t, o.Start(context.Background()))
	f.queueOne(t, "s")
	eventually(t, "sent", func() bool { return f.row(t, "s").Status == "sent" })
	o.Stop()
	o.Stop()
}

// backlog is a pipeline that is always, or never, behind.
type backlog bool

func (b backlog) Backlogged() bool { return bool(b) }

// While the pipeline is behind, the sender yields between claims but still sends
// every email; when it is not, it never waits.
func TestOutboxYieldsToABackloggedPipelineWithoutStarving(t *testing.T) {
	t.Parallel()
	for _, behind := range []bool{true, false} {
		f := newFixture(t)
		fake := sendgridfake.New(apiKey)
		defer fake.Close()
		for i := 0; i < 5; i++ {
			f.queueOne(t, fmt.Sprintf("y:%v:%d", behind, i))
		}
		o := startOutbox(t, f, newSendGrid(apiKey, fake.URL, time.Second, 4),
			nil, backlog(behind), Options{Concurrency: 2, YieldPause: 20 * time.Millisecond})
		// The provider accepts an email before the row is recorded: wait for the rows.
		eventually(t, "every email recorded sent", func() bool {
			for i := 0; i < 5; i++ {
				if f.row(t, fmt.Sprintf("y:%v:%d", behind, i)).Status != "sent" {
					return false
				}
			}
			return true
		})
		require.Len(t, fake.Accepted(), 5)
		if behind {
			require.GreaterOrEqual(t, o.yields.Load(), int64(3), "5 emails two at a time take at least 3 claims, each after a pause")
		} else {
			require.Zero(t, o.yields.Load())
		}
	}
}

// A row the Queuer wrote carries template variables, not content: the sender renders
// it with the templates in force, sends that, and records what it sent. Variables
// that cannot be rendered fail the row for good, with the reason; a row that needs
// the settings while none are valid waits and is tried again.
func TestOutboxRendersQueuedRowsWhenSending(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	queue := func(key, tpl, vars string) {
		_, err := f.pool.Exec(ctx, `insert into email_notifications
			(email_type, recipient_email, template_vars, idempotency_key, from_email, from_name)
			values ($1, 'ana@example.com', $2::jsonb, $3, 'talent@example.com', 'Northlight')`, tpl, vars, key)
		require.NoError(t, err)
	}
	queue("r:ok", "approval", `{"TalentName":"Ana <b>Lima</b>","PortalURL":"https://portal.example.com","CompanyName":"Northlight"}`)
	queue("r:bad", "approval", `["not", "an", "object"]`)
	queue("r:later", "approval", `{"TalentName":"Bo"}`)

	_, err := f.pool.Exec(ctx, `insert into email_notifications (email_type, recipient_email, idempotency_key, from_email)
		values ('approval', 'x@example.com', 'r:empty', 'talent@example.com')`)
	require.ErrorContains(t, err, "email_notifications_renderable", "a row needs content or variables")

	// No valid settings for r:later: it fails an attempt, temporarily.
	noSettings := &email.Config{Templates: f.live.Current().Templates}
	startOutbox(t, f, newSendGrid(apiKey, fake.URL, time.Second, 4), noSettings, nil, Options{BackoffBase: time.Hour})
	// (A claim counts the attempt; the error is recorded after it.)
	eventually(t, "every row tried", func() bool {
		later := f.row(t, "r:later")
		return f.row(t, "r:ok").Status != "queued" && f.row(t, "r:bad").Status != "queued" && later.Attempts == 1 && later.LastError != ""
	})
	later := f.row(t, "r:later")
	require.Equal(t, "queued", later.Status)
	require.Contains(t, later.LastError, email.ErrNoSettings.Error())
	require.Greater(t, later.NextIn, 5*time.Minute, "retried after the backoff, not at once")

	require.Equal(t, "sent", f.row(t, "r:ok").Status)
	acc := fake.Accepted()
	require.Len(t, acc, 1)
	require.Contains(t, acc[0].HTML, "Ana &lt;b&gt;Lima&lt;/b&gt;")
	require.Contains(t, acc[0].Text, "Ana <b>Lima</b>")
	var subject, html, text string
	require.NoError(t, f.pool.QueryRow(ctx, `select subject, content, text_content from email_notifications
		where idempotency_key = 'r:ok'`).Scan(&subject, &html, &text))
	require.Equal(t, []string{acc[0].Subject, acc[0].HTML, acc[0].Text}, []string{subject, html, text},
		"the row records what was sent")

	bad := f.row(t, "r:bad")
	require.Equal(t, "failed", bad.Status)
	require.Contains(t, bad.LastError, "rendering failed: template approval: reading template_vars")
}
