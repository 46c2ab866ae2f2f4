package emailsend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/email"
	"github.com/talent-onboarding/backend/sidecar/internal/leasequeue"
	"github.com/talent-onboarding/backend/sidecar/internal/retry"
	"github.com/talent-onboarding/backend/sidecar/internal/startstop"
)

// Options tunes the sender. Zero values take the defaults noted.
type Options struct {
	Concurrency int           // emails in flight (EMAIL_CONCURRENCY; 16)
	MaxAttempts int           // attempts before failed (EMAIL_MAX_ATTEMPTS; 8)
	Poll        time.Duration // idle poll interval (EMAIL_POLL_INTERVAL; 500ms)
	SendTimeout time.Duration // one attempt's limit (30s)
	// DBTimeout bounds each statement (a claim, recording an outcome); a connection
	// that has not answered by then is abandoned (DATABASE_TIMEOUT; 10s).
	DBTimeout time.Duration
	// Lease is how long a claimed row is hidden from other senders. It must outlast
	// SendTimeout: a row whose lease expires is claimed again (that is how an email
	// claimed by a crashed sender is sent), so a lease shorter than a send would
	// duplicate emails. Default SendTimeout + 30s.
	Lease       time.Duration
	BackoffBase time.Duration // first retry delay (1s), doubled per attempt, with jitter
	BackoffMax  time.Duration // longest retry delay (15m)
	YieldPause  time.Duration // the pause between claims while the pipeline is behind (100ms)
	// Registry, when set, gets sidecar_email_sends_total{outcome}: the alert rules
	// (deploy/prometheus) tell a failing outbox from it.
	Registry prometheus.Registerer
}

// defaultSendTimeout bounds one delivery attempt unless Options or ProviderOptions
// say otherwise.
const defaultSendTimeout = 30 * time.Second

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = defaultSendTimeout
	}
	if o.DBTimeout <= 0 {
		o.DBTimeout = 10 * time.Second
	}
	if o.Lease <= o.SendTimeout {
		o.Lease = o.SendTimeout + 30*time.Second
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 15 * time.Minute
	}
	if o.YieldPause <= 0 {
		o.YieldPause = 100 * time.Millisecond
	}
}

// Renderer renders a queued row that has no content yet from its template name and
// template_vars (email.Live). Rows queued by the sidecar need it; a row that carries
// its content is sent as it is. An error wrapping email.ErrNoSettings is retried
// later; any other fails the row for good.
type Renderer interface {
	RenderStored(tpl string, vars []byte) (email.Rendered, error)
}

// Backlog reports whether the change pipeline is behind (a backlog after an
// outage): the sender then claims at most once per Options.YieldPause, leaving the
// CPU and the database to the pipeline, whose lag pins WAL on the server. Emails
// keep moving, slower, and catch up once the pipeline has.
type Backlog interface {
	Backlogged() bool
}

// notifyChannel is the channel the outbox listens on: a NOTIFY on it (from an
// operator, or a tool that queues emails) wakes senders at once instead of at their
// next poll. The sidecar's own queue does not notify (see email.NewQueuer).
const notifyChannel = "email_outbox"

// Outbox sends queued email_notifications rows, after the transaction that queued
// them committed. Every instance may run one: rows are claimed with FOR UPDATE SKIP
// LOCKED in a short transaction that also pushes next_attempt_at forward by the
// lease and counts the attempt, the email is sent outside any transaction, and the
// result is recorded afterwards. A crash between sending and recording leaves the
// row queued; it is claimed again when its lease expires and sent once more — the
// only way an email repeats.
type Outbox struct {
	pool     *pgxpool.Pool
	provider Provider
	render   Renderer // may be nil: rows without content then fail
	backlog  Backlog  // may be nil: never behind
	wake     *leasequeue.Wakeup
	opts     Options
	log      *slog.Logger
	svc      startstop.Service

	// sent carries successful sends to the recorder while run is running.
	sent chan sentEmail
	// yields counts claim rounds delayed for the pipeline (tests read it).
	yields atomic.Int64
	// sends counts delivery attempts by outcome: sent, retry (a temporary error, tried
	// again later), failed (given up: permanent error or attempts exhausted).
	sends *prometheus.CounterVec
}

// sentEmail is a successful send waiting to be recorded; recorded is closed once
// the row says sent (or the write failed and was logged).
type sentEmail struct {
	c          claimed
	providerID string
	recorded   chan struct{}
}

// NewOutbox returns a stopped sender. render, backlog and wake may be nil.
func NewOutbox(pool *pgxpool.Pool, provider Provider, render Renderer, backlog Backlog, wake *leasequeue.Wakeup,
	opts Options, log *slog.Logger) *Outbox {
	opts.defaults()
	if wake == nil {
		wake = leasequeue.NewWakeup()
	}
	o := &Outbox{pool: pool, provider: provider, render: render, backlog: backlog, wake: wake, opts: opts,
		log: log.With("component", "emailsend.outbox"),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sidecar_email_sends_total",
			Help: "Email delivery attempts by outcome (sent, retry, failed)."}, []string{"outcome"})}
	for _, outcome := range []string{"sent", "retry", "failed"} {
		o.sends.WithLabelValues(outcome) // every series exists from the start, so rate() sees the first one
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(o.sends)
	}
	return o
}

// Start runs the sender until Stop. It returns at once.
func (o *Outbox) Start(ctx context.Context) error {
	return o.svc.Start(ctx, "email outbox", o.listen, o.run)
}

// Stop stops claiming, waits for emails in flight to be sent and recorded, and
// returns. It may be called more than once, and before Start.
func (o *Outbox) Stop() { o.svc.Stop() }

// Wake makes the sender look for due rows now: what a NOTIFY on notifyChannel does
// across instances, and the queue's Wakeup within this process.
func (o *Outbox) Wake() { o.wake.Ring() }

// listen turns NOTIFY email_outbox into wake-ups. Without it the sender still polls.
func (o *Outbox) listen(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := o.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		o.log.Warn("listening for queued emails failed; polling meanwhile", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func (o *Outbox) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, o.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "listen "+notifyChannel); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		o.Wake()
	}
}

type claimed struct {
	id       string
	attempts int
	msg      Message
	vars     []byte // template_vars, when the row has no content yet
	rendered bool   // msg's subject and bodies were rendered here: record them
}

func (o *Outbox) run(ctx context.Context) {
	// Sends and records outlive ctx so Stop never abandons a sent email unrecorded.
	workCtx := context.WithoutCancel(ctx)
	o.sent = make(chan sentEmail, o.opts.Concurrency)
	recorderDone := make(chan struct{})
	go func() {
		defer close(recorderDone)
		o.recorder(workCtx)
	}()
	loop := leasequeue.Loop[claimed]{
		Concurrency: o.opts.Concurrency, Poll: o.opts.Poll, Wake: o.wake,
		Hold: func() bool {
			if o.backlog != nil && o.backlog.Backlogged() {
				o.yields.Add(1)
				return true
			}
			return false
		},
		HoldFor: o.opts.YieldPause,
		Claim:   o.claim,
		Work:    o.deliver,
		Log:     o.log, Noun: "queued emails",
	}
	loop.Run(ctx) // returns once the sends in flight are done
	close(o.sent)
	<-recorderDone
}

// claim leases up to n due rows.
func (o *Outbox) claim(ctx context.Context, n int) ([]claimed, error) {
	ctx, cancel := context.WithTimeout(ctx, o.opts.DBTimeout)
	defer cancel()
	rows, err := o.pool.Query(ctx, leasequeue.ClaimSQL("public.email_notifications", `q.id::text, q.attempts,
		q.email_type, q.recipient_email, coalesce(q.subject, ''), coalesce(q.content, ''), coalesce(q.text_content, ''),
		q.idempotency_key, coalesce(q.from_email, ''), coalesce(q.from_name, ''), coalesce(q.reply_to, ''),
		case when q.content is null then q.template_vars::text end`), n, o.opts.Lease)
	if err != nil {
		return nil, fmt.Errorf("claiming emails: %w", err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		m := &c.msg
		var vars *string
		if err := rows.Scan(&c.id, &c.attempts, &m.Type, &m.To, &m.Subject, &m.HTML, &m.Text,
			&m.IdempotencyKey, &m.FromEmail, &m.FromName, &m.ReplyTo, &vars); err != nil {
			return nil, fmt.Errorf("claiming emails: %w", err)
		}
		if vars != nil {
			c.vars = []byte(*vars)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (o *Outbox) deliver(ctx context.Context, c claimed) {
	if c.msg.FromEmail == "" {
		o.record(ctx, c, "", permanent(errors.New("row has no sender (from_email); it was not queued by the sidecar")))
		return
	}
	if c.vars != nil {
		if o.render == nil {
			o.record(ctx, c, "", permanent(errors.New("row has no content and this sender cannot render")))
			return
		}
		r, err := o.render.RenderStored(c.msg.Type, c.vars)
		if err != nil {
			if errors.Is(err, email.ErrNoSettings) {
				err = temporary(err) // settings an admin has yet to fix
			} else {
				err = permanent(err) // variables that do not render now never will
			}
			o.record(ctx, c, "", fmt.Errorf("rendering failed: %w", err))
			return
		}
		c.msg.Subject, c.msg.HTML, c.msg.Text, c.rendered = r.Subject, r.HTML, r.Text, true
	}
	sctx, cancel := context.WithTimeout(ctx, o.opts.SendTimeout)
	id, err := o.provider.Mail(sctx, &c.msg)
	if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		err = temporary(fmt.Errorf("timed out after %s: %w", o.opts.SendTimeout, err))
	}
	cancel()
	o.record(ctx, c, id, err)
}

// record writes the outcome. A row the event webhook already moved to delivered or
// bounced keeps that status (only the provider id and sent_at are filled in).
func (o *Outbox) record(ctx context.Context, c claimed, providerID string, sendErr error) {
	var err error
	ctx, cancel := context.WithTimeout(ctx, o.opts.DBTimeout)
	defer cancel()
	switch {
	case sendErr == nil:
		// Sends are recorded by run's recorder, in batches.
		e := sentEmail{c: c, providerID: providerID, recorded: make(chan struct{})}
		o.sent <- e
		<-e.recorded
		o.sends.WithLabelValues("sent").Inc()
		return
	default:
		perm, retryAt := classify(sendErr)
		msg := sendErr.Error()
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		if perm || c.attempts >= o.opts.MaxAttempts {
			if !perm {
				msg = fmt.Sprintf("gave up after %d attempts: %s", c.attempts, msg)
			}
			o.log.Warn("email failed", "id", c.id, "type", c.msg.Type, "attempts", c.attempts, "error", msg)
			o.sends.WithLabelValues("failed").Inc()
			_, err = o.pool.Exec(ctx, `update public.email_notifications
				set status = 'failed', last_error = $2, updated_at = now()
				where id = $1::uuid and status = 'queued'`, c.id, msg)
		} else {
			delay := retry.Backoff{Base: o.opts.BackoffBase, Max: o.opts.BackoffMax}.Delay(c.attempts)
			if d := time.Until(retryAt); d > delay {
				delay = d + time.Duration(rand.Int64N(int64(o.opts.BackoffBase)))
			}
			o.log.Info("email will be retried", "id", c.id, "attempts", c.attempts, "in", delay, "error", msg)
			o.sends.WithLabelValues("retry").Inc()
			_, err = o.pool.Exec(ctx, `update public.email_notifications
				set last_error = $2, next_attempt_at = now() + $3::interval, updated_at = now()
				where id = $1::uuid and status = 'queued'`, c.id, msg, delay)
		}
	}
	if err != nil {
		// The lease expires and the row is claimed again: at worst one repeat.
		o.log.Error("recording email outcome", "id", c.id, "error", err)
	}
}

// minRecordAttempt is the least time worth a last attempt at recording sent emails
// (a new connection and one statement).
const minRecordAttempt = time.Second

// recorder writes successful sends in batches: whatever has arrived while the
// previous write ran goes in the next statement, so at sending speed one commit
// records many emails instead of one each. A sender's slot is freed only once its
// email is recorded, so a crash still leaves at most the emails in flight unrecorded.
func (o *Outbox) recorder(ctx context.Context) {
	const most = 256
	batch := make([]sentEmail, 0, most)
	for e := range o.sent {
		batch = append(batch[:0], e)
	more:
		for len(batch) < most {
			select {
			case e, ok := <-o.sent:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		// A sent email not recorded before its lease runs out is sent again, so a
		// failed write is retried (on another connection: a timed-out one is
		// closed) for as long as the leases leave: until leaseEnd, which no lease of
		// the batch ends before (each was claimed before its send began, and a send
		// takes at most SendTimeout). No attempt outlives leaseEnd, so none can
		// record an email another sender has claimed again meanwhile. (Stopping a
		// whole DATABASE_TIMEOUT earlier, as this did, gave up a 20-second outage's
		// emails to a second send just as the network came back.)
		leaseEnd := time.Now().Add(o.opts.Lease - o.opts.SendTimeout)
		backoff := retry.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second}
		for attempt := 1; ; attempt++ {
			deadline := time.Now().Add(o.opts.DBTimeout)
			if deadline.After(leaseEnd) {
				deadline = leaseEnd
			}
			rctx, cancel := context.WithDeadline(ctx, deadline)
			err := o.recordSent(rctx, batch)
			cancel()
			if err == nil {
				break
			}
			wait := backoff.Delay(attempt)
			if time.Until(leaseEnd)-wait < minRecordAttempt {
				// The leases expire and the rows are claimed again: at worst one repeat each.
				o.log.Error("recording sent emails", "emails", len(batch), "error", err)
				break
			}
			o.log.Warn("recording sent emails failed; retrying", "emails", len(batch), "error", err, "in", wait)
			time.Sleep(wait)
		}
		for _, e := range batch {
			close(e.recorded)
		}
	}
}

// recordSent marks rows sent with their provider ids and, for rows rendered here,
// what was sent. A row the event webhook already moved to delivered or bounced keeps
// that status.
func (o *Outbox) recordSent(ctx context.Context, batch []sentEmail) error {
	n := len(batch)
	ids, providerIDs := make([]string, n), make([]string, n)
	subjects, htmls, texts := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, e := range batch {
		ids[i], providerIDs[i] = e.c.id, e.providerID
		if e.c.rendered {
			subjects[i], htmls[i], texts[i] = &e.c.msg.Subject, &e.c.msg.HTML, &e.c.msg.Text
		}
	}
	_, err := o.pool.Exec(ctx, `update public.email_notifications e
		set status = case when e.status in ('queued', 'failed') then 'sent' else e.status end,
			provider_message_id = coalesce(e.provider_message_id, s.provider_id), sent_at = coalesce(e.sent_at, now()),
			subject = coalesce(e.subject, s.subject), content = coalesce(e.content, s.html),
			text_content = coalesce(e.text_content, s.txt),
			last_error = null, updated_at = now()
		from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) s(id, provider_id, subject, html, txt)
		where e.id = s.id`, ids, providerIDs, subjects, htmls, texts)
	return err
}
