package emailsend

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// benchVars is the template_vars of a queued bench email (g names the talent): rows
// are queued as the Queuer queues them, so the sender renders each one as in
// production.
const benchVars = `jsonb_build_object('TalentName', 'Talent ' || g, 'TalentEmail', 'to' || g || '@example.com',
	'Status', 'approved', 'PreviousStatus', 'submitted', 'PortalURL', 'https://portal.example.com',
	'ProfileURL', 'https://portal.example.com/profile', 'CompanyName', 'Northlight')`

// waitNoneQueued waits until the sender has dealt with every queued row.
func waitNoneQueued(b *testing.B, f *fixture) {
	for {
		var left int
		require.NoError(b, f.pool.QueryRow(context.Background(),
			`select count(*) from email_notifications where status = 'queued'`).Scan(&left))
		if left == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkOutboxSendGrid measures emails/s from queued rows (rendered when sent) to
// recorded "sent" through the SendGrid fake at the default concurrency (16), against a baseline of
// the same provider called directly at the same concurrency (no database), and the
// queue-to-sent latency (created_at → sent_at) of the emails of the run.
//
//	go test ./sidecar/internal/emailsend -run '^$' -bench BenchmarkOutboxSendGrid -benchtime 2000x
func BenchmarkOutboxSendGrid(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	const conc = 16
	p := newSendGrid(apiKey, fake.URL, 10*time.Second, conc)

	// Baseline: the provider alone.
	n := max(b.N, 200)
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				_, err := p.Mail(ctx, &Message{FromEmail: "a@example.com", To: "b@example.com", Subject: "s", HTML: "<p>h</p>", Text: "t", IdempotencyKey: fmt.Sprint("base", i)})
				if err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	baseline := float64(n) / time.Since(start).Seconds()

	o := NewOutbox(f.pool, p, f.live, nil, nil, Options{Concurrency: conc, Poll: 50 * time.Millisecond}, testlog.New(b))
	require.NoError(b, o.Start(ctx))
	defer o.Stop()
	b.ResetTimer()
	start = time.Now()
	// Queue in batches as the pipeline would commit them (one NOTIFY per transaction).
	for i := 0; i < b.N; i += 100 {
		_, err := f.pool.Exec(ctx, `with ins as (insert into email_notifications
			(email_type, recipient_email, template_vars, idempotency_key, from_email, from_name)
			select 'approval', 'to' || g || '@example.com', `+benchVars+`, 'bench:' || g, 'talent@example.com', 'N'
			from generate_series($1::int, $2::int) g returning 1) select pg_notify('email_outbox', '')`, i, min(i+100, b.N)-1)
		require.NoError(b, err)
	}
	waitNoneQueued(b, f)
	elapsed := time.Since(start)
	b.StopTimer()

	var lat []float64
	rows, err := f.pool.Query(ctx, `select extract(epoch from sent_at - created_at) * 1000 from email_notifications where status = 'sent'`)
	require.NoError(b, err)
	for rows.Next() {
		var ms float64
		require.NoError(b, rows.Scan(&ms))
		lat = append(lat, ms)
	}
	require.Len(b, lat, b.N)
	sort.Float64s(lat)
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "emails/s")
	b.ReportMetric(baseline, "baseline-emails/s")
	b.ReportMetric(rate/baseline, "ratio-vs-baseline")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	require.Empty(b, fake.Invalid())
}

// BenchmarkQueueToSentLatency queues emails one transaction at a time at a steady
// pace (well under capacity) and reports commit-to-sent latency p50/p99: the delay a
// single email sees, dominated by NOTIFY wake-up, claim, send and record.
//
//	go test ./sidecar/internal/emailsend -run '^$' -bench BenchmarkQueueToSentLatency -benchtime 300x
func BenchmarkQueueToSentLatency(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	fake := sendgridfake.New(apiKey)
	defer fake.Close()
	o := NewOutbox(f.pool, newSendGrid(apiKey, fake.URL, 10*time.Second, 16), f.live, nil, nil,
		Options{Poll: 500 * time.Millisecond}, testlog.New(b))
	require.NoError(b, o.Start(ctx))
	defer o.Stop()
	time.Sleep(100 * time.Millisecond) // LISTEN established
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx, err := f.pool.Begin(ctx)
		require.NoError(b, err)
		_, err = tx.Exec(ctx, `insert into email_notifications (email_type, recipient_email, template_vars, idempotency_key, from_email)
			select 'approval', 'x@example.com', `+benchVars+`, $1, 'talent@example.com' from (select $2::int g) x`,
			fmt.Sprint("lat:", i), i)
		require.NoError(b, err)
		_, err = tx.Exec(ctx, `select pg_notify('email_outbox', '')`)
		require.NoError(b, err)
		require.NoError(b, tx.Commit(ctx))
		time.Sleep(5 * time.Millisecond)
	}
	waitNoneQueued(b, f)
	b.StopTimer()
	var notSent int
	require.NoError(b, f.pool.QueryRow(ctx, `select count(*) from email_notifications where status <> 'sent'`).Scan(&notSent))
	require.Zero(b, notSent)
	var p50, p99 float64
	require.NoError(b, f.pool.QueryRow(ctx, `select percentile_cont(0.5) within group (order by extract(epoch from sent_at - created_at)),
		percentile_cont(0.99) within group (order by extract(epoch from sent_at - created_at)) from email_notifications`).Scan(&p50, &p99))
	b.ReportMetric(p50*1000, "p50-ms")
	b.ReportMetric(p99*1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
