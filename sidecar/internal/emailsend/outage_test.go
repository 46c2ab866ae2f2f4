package emailsend

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/dbconn"
	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/faultproxy"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// outageAfterSend is a provider that, once its first email is accepted, makes the
// database unreachable (every open connection silent, new ones too) for outage.
type outageAfterSend struct {
	Provider
	proxy  *faultproxy.Proxy
	outage time.Duration
	once   sync.Once
	ended  chan struct{}
}

func (p *outageAfterSend) Mail(ctx context.Context, msg *Message) (string, error) {
	id, err := p.Provider.Mail(ctx, msg)
	p.once.Do(func() {
		p.proxy.Blackhole(true)
		p.proxy.Silence()
		time.AfterFunc(p.outage, func() { p.proxy.Blackhole(false); close(p.ended) })
	})
	return id, err
}

// A sent email whose recording meets a silent database is recorded once the database
// answers again, for as long as its lease still keeps other senders off it, and is
// not sent a second time. A lease of 12 s and sends of at most 1 s leave 11 s.
// Attempts of DATABASE_TIMEOUT = 2 s, with backoffs of 0.05-0.8 s, start near 0,
// 2.1, 4.2, 6.5 and 8.8-9.5 s; an outage of 8.5 s fails the first four (a connection
// opened in the silence stays silent) and ends before the fifth. The recorder used to
// stop a whole DATABASE_TIMEOUT before the lease ran out (at 9 s here), so it gave up
// before the fifth, and the email went out again when the lease expired.
func TestOutboxRecordsASendAcrossAnOutageWithinTheLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fake := sendgridfake.New(apiKey)
	defer fake.Close()

	u, err := url.Parse(f.db.URL)
	require.NoError(t, err)
	proxy, err := faultproxy.New(u.Host)
	require.NoError(t, err)
	defer proxy.Close()
	u.Host = proxy.Addr()
	cfg, err := pgxpool.ParseConfig(u.String())
	require.NoError(t, err)
	// As the service's pools are (serve.go): a connect timeout of DATABASE_TIMEOUT and
	// keepalives, so a dial into the silence fails instead of holding a pool slot.
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	dbconn.Configure(&cfg.ConnConfig.Config)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	defer pool.Close()

	p := &outageAfterSend{Provider: newSendGrid(apiKey, fake.URL, time.Second, 4), proxy: proxy,
		outage: 8500 * time.Millisecond, ended: make(chan struct{})}
	f.queueOne(t, "outage")
	start := time.Now()
	o := NewOutbox(pool, p, nil, nil, nil, Options{Poll: 50 * time.Millisecond, BackoffBase: 40 * time.Millisecond,
		SendTimeout: time.Second, DBTimeout: 2 * time.Second, Lease: 12 * time.Second}, testlog.New(t))
	require.NoError(t, o.Start(context.Background()))
	defer o.Stop()

	select {
	case <-p.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("no email was sent")
	}
	eventually(t, "the send recorded", func() bool { return f.row(t, "outage").Status == "sent" })
	t.Logf("recorded %s after the send, the database silent for the first %s of it", time.Since(start).Round(100*time.Millisecond), p.outage)
	// Past the lease: a row still unrecorded would have been claimed and sent again.
	time.Sleep(time.Until(start.Add(14 * time.Second)))
	require.Len(t, fake.Accepted(), 1, "sent once")
	require.Equal(t, 1, f.row(t, "outage").Attempts)
}
