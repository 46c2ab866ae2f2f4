package email

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/ideminsert"
	"github.com/talent-onboarding/backend/sidecar/internal/talentstatus"
)

// Queuer is the change.Handler that queues the emails of a talent status change
// (DESIGN.md state machine) into email_notifications, in the pipeline's transaction,
// with the settings in force and the template variables of the changed row; the
// outbox renders them when it sends (see migration email_render_at_send). Each row's
// idempotency key is ev.Key:template:recipient, so the same change handled twice
// queues nothing more.
//
// Rows that are not to be sent are still recorded, with status failed and a
// last_error saying why: "suppressed: …" when email or the template is switched off,
// "held back: …" when the recipient reached the per-recipient limit. The limit
// counts a recipient's recent emails about the same talent: a talent whose status
// flips is held back after the limit, and an admin, who receives a notice about
// every submission, is held back only for a talent resubmitting in a loop.
//
// Handle only decides; the rows are written by Flush, once per batch
// (pipeline.Handler), because a lock, a count and an insert per email cost
// three round trips each and made a backlog drain 30 times slower. Like the
// pipeline, a Queuer serves one worker at a time (Handle…, then Flush and, once the
// transaction commits, Committed; or Discard).
type Queuer struct {
	live     *Live
	wake     func()
	log      *slog.Logger
	pending  []candidate
	insert   *ideminsert.Insert
	ids      io.Reader // random bytes for the rows' ids, read in blocks
	copyRows ideminsert.Rows
	// queued: the transaction being built queued an email to send; Committed wakes
	// the sender then.
	queued bool
}

// candidate is one email Handle decided on, waiting for Flush. Status is "queued"
// while it is still subject to flood control, which only Flush can decide.
type candidate struct {
	key, tpl, talentID, to string
	status, why            string
	vars                   []byte // templateVars as JSON
	// The settings in force when Handle ran.
	fromEmail, fromName, replyTo string
	limit, windowSecs            int
}

// NewQueuer returns the handler; live supplies the configuration, and wake (which
// may be nil) is called after a transaction that queued an email to send commits:
// it rings the outbox of the same process (leasequeue.Wakeup).
//
// The queue does not NOTIFY: Postgres serialises the commits of every transaction
// that notifies (one lock, held through the commit's WAL flush), which made the
// pipeline's workers commit one after another. Outboxes of other instances, and
// rows queued by other means, are found by their next poll.
func NewQueuer(live *Live, wake func(), log *slog.Logger) *Queuer {
	return &Queuer{live: live, wake: wake, log: log.With("component", "email.queue"),
		insert: ideminsert.New(insertSQL, "on conflict (idempotency_key) do nothing", "returning idempotency_key").
			WithCopy(pgx.Identifier{"public", "email_notifications"}, copyColumns...),
		ids: bufio.NewReaderSize(rand.Reader, 4096)}
}

// copyColumns are the columns of the COPY form of insertSQL, the same values plus
// the row's id: given, rather than left to its default (gen_random_uuid(), a
// volatile default, which would make Postgres insert row by row).
var copyColumns = []string{"id", "talent_profile_id", "email_type", "recipient_email", "template_vars", "status", "last_error",
	"idempotency_key", "from_email", "from_name", "reply_to"}

// Handle decides the emails of a talent_profiles status change, with their
// variables, and buffers them for Flush. It does not touch the database.
func (q *Queuer) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if ev.Op != change.Update || ev.Old == nil || ev.New == nil {
		return nil
	}
	from, to := ev.Old.Str("status"), ev.New.Str("status")
	if from == to {
		return nil
	}
	tr, _ := talentstatus.Lookup(from, to)
	tpl := tr.Email
	if tpl == "" {
		return nil
	}
	if ev.Key == "" {
		return fmt.Errorf("queueing %s email: event has no key", tpl)
	}
	cfg := q.live.Current()
	if cfg.Settings == nil {
		return fmt.Errorf("queueing %s email: no valid email_settings applied", tpl)
	}
	v := varsFor(ev.New, from, to)
	vars, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("queueing %s email: %w", tpl, err)
	}
	talentID := ev.New.Str("id")
	if talentID == "" {
		return fmt.Errorf("queueing %s email: row has no id", tpl)
	}

	if v.TalentEmail == "" {
		q.log.Warn("talent has no email address; nothing to send", "talent", talentID, "template", tpl)
	} else {
		q.pending = append(q.pending, q.candidate(cfg, ev.Key, tpl, talentID, v.TalentEmail, vars))
	}
	if tpl == welcome {
		for _, admin := range cfg.Settings.AdminRecipients {
			q.pending = append(q.pending, q.candidate(cfg, ev.Key, adminNewSubmission, talentID, admin, vars))
		}
	}
	return nil
}

// Watches names the change records of talent_profiles.
func (q *Queuer) Watches() change.Watch {
	return change.Watch{Records: []string{"talent_profiles"}}
}

// candidate decides one email, except for flood control, which Flush decides.
func (q *Queuer) candidate(cfg *Config, key, tpl, talentID, to string, vars []byte) candidate {
	s := cfg.Settings
	c := candidate{
		key: key + ":" + tpl + ":" + strings.ToLower(to), tpl: tpl, talentID: talentID, to: to,
		status: "queued", vars: vars,
		fromEmail: s.FromEmail, fromName: s.FromName, replyTo: s.ReplyTo,
		limit: s.Limit, windowSecs: s.WindowSeconds,
	}
	t := cfg.Templates[tpl]
	switch {
	case t == nil:
		c.status, c.why = "failed", "suppressed: template "+tpl+" has no valid version (see email_templates.apply_error)"
	case !s.Enabled:
		c.status, c.why = "failed", "suppressed: email is switched off in email_settings"
	case !t.Enabled:
		c.status, c.why = "failed", "suppressed: template "+tpl+" is disabled"
	}
	return c
}

// lockSQL takes the flood-control locks of a batch, one per talent (the lock of the
// talent's change-record key, 'talent:<id>', which the batch's claim took already
// when the emails come from its records), and tells how
// Postgres lowercases each recipient's address (the identity counts are grouped by).
// The locks are taken in one order (by lock id) for every transaction, so two
// pipeline workers cannot deadlock, and held until the batch commits, so a concurrent
// worker or instance counts a talent's emails after this batch's rows are visible.
// (Volatile output expressions are evaluated after the sort.)
const lockSQL = `
with locked as (
  select count(x.taken) as n
    from (select pg_advisory_xact_lock(h)::text as taken
            from (select distinct hashtext('talent:' || t) as h from unnest($2::text[]) t) k
           order by h) x)
select r, lower(r) from (select distinct r from unnest($1::text[]) r) d, locked`

// scanSQL reads, for each talent of the batch, whether it still exists and, for
// each flood window in use (one, unless the settings changed mid-batch), how many
// emails each of its recipients (lowercased) received about it recently that were
// not failed. It runs after lockSQL, in a new snapshot, so it sees every email a
// concurrent holder of the same locks committed. The scalar subquery and the grouped
// lateral subquery keep the plan to one probe per talent of talent_profiles_pkey
// and of email_notifications_talent_profile_idx (a talent has a few emails, while an
// admin's address has a notice about every talent); written as plain joins, the
// planner hashed whole tables while they were small. (OFFSET 0 keeps the talent's
// probe from being repeated for each of its recipients.) The talent's probe locks it
// as a foreign key would (FOR KEY SHARE, until the batch commits): the emails name
// their talent without one, and deleting the talent must wait for them so that it
// can set their reference to null (migration 20261122000200).
const scanSQL = `
select u.id::text, u.found, c.secs, c.l, c.n
  from (select d.id, (select t.id from public.talent_profiles t where t.id = d.id for key share) is not null as found
          from (select distinct id from unnest($1::uuid[]) id) d
        offset 0) u
  left join lateral (
    select w.secs, lower(e.recipient_email) as l, count(*)::int as n
      from public.email_notifications e
      join unnest($2::int[]) w(secs) on e.created_at > now() - make_interval(secs => w.secs)
     where e.talent_profile_id = u.id and e.status <> 'failed'
     group by 1, 2) c on true`

// insertSQL writes the batch's emails in one statement; Flush runs it through
// ideminsert, which returns the keys it inserted: a key already there is a
// redelivered change, queued before.
const insertSQL = `
insert into public.email_notifications
  (talent_profile_id, email_type, recipient_email, template_vars, status, last_error,
   idempotency_key, from_email, from_name, reply_to)
select r.talent_id::uuid, r.tpl::public.email_type, r.recipient, r.vars::jsonb, r.status::public.email_status, r.why,
       r.key, r.from_email, r.from_name, r.reply_to
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::text[], $10::text[])
         with ordinality as r(talent_id, tpl, recipient, vars, status, why,
                              key, from_email, from_name, reply_to, n)
 order by r.n`

// holdSQL marks the emails flood control held back (rare: only when a recipient
// reached the limit).
const holdSQL = `
update public.email_notifications e
   set status = 'failed', last_error = h.why, updated_at = now()
  from unnest($1::text[], $2::text[]) h(key, why)
 where e.idempotency_key = h.key`

// countKey names a flood count: a recipient's (lowercased by Postgres) emails about
// one talent within a window.
type countKey struct {
	secs      int
	l, talent string
}

// flood is what lockAndScan learned for a batch.
type flood struct {
	lowerOf map[string]string // recipient -> lower(recipient), as Postgres lowercases
	gone    map[string]bool   // talents deleted since their change
	recent  map[countKey]int  // recent emails not failed
}

// Flush writes the buffered emails in two round trips: the flood locks with the
// recent counts, then one insert. Flood control is decided afterwards, in buffer
// order, over the rows the insert added, counting the rows this batch accepts, so
// the limit holds within a batch as it does across batches and a redelivered change
// neither adds nor counts anything. The emails it holds back (rarely any) are marked
// failed by a third statement.
func (q *Queuer) Flush(ctx context.Context, tx pgx.Tx) error {
	if len(q.pending) == 0 {
		return nil
	}
	defer func() { q.pending = nil }()

	// A change handled twice in one batch (both inputs) yields the same keys: the
	// first one counts, as the second insert would have done nothing.
	rows := make([]*candidate, 0, len(q.pending))
	seen := make(map[string]bool, len(q.pending))
	var floodTo, talents []string
	var windows []int
	for i := range q.pending {
		c := &q.pending[i]
		if seen[c.key] {
			continue
		}
		seen[c.key] = true
		rows = append(rows, c)
		talents = append(talents, c.talentID)
		if c.status == "queued" {
			floodTo = append(floodTo, c.to)
			if !slices.Contains(windows, c.windowSecs) {
				windows = append(windows, c.windowSecs)
			}
		}
	}

	fl, err := q.lockAndScan(ctx, tx, floodTo, talents, windows)
	if err != nil {
		return err
	}

	// The batch as COPY rows, each with a version 4 (random) id, as gen_random_uuid()
	// makes them. The SQL forms' arrays are built only if a redelivered key sends
	// the batch to the ON CONFLICT insert.
	n := len(rows)
	cp := &q.copyRows
	cp.Reset(len(copyColumns))
	key := make([]string, 0, n)
	for _, c := range rows {
		id, err := uuid.NewRandomFromReader(q.ids)
		if err != nil {
			return fmt.Errorf("making an email id: %w", err)
		}
		cp.Row()
		cp.UUID(id)
		if fl.gone[c.talentID] {
			// Deleted after the change: nothing to send. Recorded without the
			// talent, as its deletion would have left it and as the audit log does.
			c.status, c.why = "failed", "suppressed: the talent was deleted before this email was queued"
			cp.Null()
		} else {
			talent, err := uuid.Parse(c.talentID)
			if err != nil {
				return fmt.Errorf("queueing an email for talent %q: %w", c.talentID, err)
			}
			cp.UUID(talent)
		}
		cp.Text(c.tpl)
		cp.Text(c.to)
		cp.JSONB(c.vars)
		cp.Text(c.status)
		cp.TextOrNull(ideminsert.NullIfEmpty(c.why))
		cp.Text(c.key)
		cp.Text(c.fromEmail)
		cp.Text(c.fromName)
		cp.TextOrNull(ideminsert.NullIfEmpty(c.replyTo))
		key = append(key, c.key)
	}
	args := func() []any {
		talent, tpl, to, vars := make([]*string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		status, why, fromEmail, fromName, replyTo := make([]string, 0, n), make([]*string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]*string, 0, n)
		for _, c := range rows {
			if fl.gone[c.talentID] {
				talent = append(talent, nil)
			} else {
				talent = append(talent, ideminsert.NullIfEmpty(c.talentID))
			}
			tpl = append(tpl, c.tpl)
			to = append(to, c.to)
			vars = append(vars, string(c.vars))
			status = append(status, c.status)
			why = append(why, ideminsert.NullIfEmpty(c.why))
			fromEmail = append(fromEmail, c.fromEmail)
			fromName = append(fromName, c.fromName)
			replyTo = append(replyTo, ideminsert.NullIfEmpty(c.replyTo))
		}
		return []any{talent, tpl, to, vars, status, why, key, fromEmail, fromName, replyTo}
	}
	keys, err := q.insert.RunCopy(ctx, tx, ideminsert.Batch{Args: args, Rows: cp, Keys: key})
	if err != nil {
		return fmt.Errorf("queueing %d emails: %w", n, err)
	}
	added := make(map[string]bool, len(keys))
	for _, k := range keys {
		added[k] = true
	}

	var heldKey, heldWhy []string
	for _, c := range rows {
		if !added[c.key] || c.status != "queued" {
			continue // a redelivery (queued before, counted then), or not to be sent
		}
		l := fl.lowerOf[c.to]
		if got := fl.recent[countKey{c.windowSecs, l, c.talentID}]; got >= c.limit {
			c.status = "failed"
			heldKey = append(heldKey, c.key)
			heldWhy = append(heldWhy, fmt.Sprintf("held back: %s already received %d emails in the last %s (per_recipient_limit %d)",
				c.to, got, time.Duration(c.windowSecs)*time.Second, c.limit))
			q.log.Warn("email held back by flood control", "recipient", c.to, "template", c.tpl, "talent", c.talentID)
			continue
		}
		for _, w := range windows {
			fl.recent[countKey{w, l, c.talentID}]++
		}
		q.queued = true
	}
	if len(heldKey) > 0 {
		if _, err := tx.Exec(ctx, holdSQL, heldKey, heldWhy); err != nil {
			return fmt.Errorf("holding back %d emails: %w", len(heldKey), err)
		}
	}
	return nil
}

// Committed wakes the sender if the committed transaction queued an email to send.
func (q *Queuer) Committed(context.Context) {
	if q.queued && q.wake != nil {
		q.wake()
	}
	q.queued = false
}

// lockAndScan runs lockSQL and scanSQL in one round trip: it locks the talents'
// flood counts, and reads which talents are gone and the recent counts.
func (q *Queuer) lockAndScan(ctx context.Context, tx pgx.Tx, to, talents []string, windows []int) (*flood, error) {
	fl := &flood{lowerOf: map[string]string{}, gone: map[string]bool{}, recent: map[countKey]int{}}
	if len(windows) == 0 {
		windows = []int{0} // nothing to count: still learn which talents are gone
	}
	b := &pgx.Batch{}
	b.Queue(lockSQL, to, talents)
	b.Queue(scanSQL, talents, windows)
	br := tx.SendBatch(ctx, b)
	defer br.Close()

	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("locking flood counts of %d talents: %w", len(talents), err)
	}
	var r, l string
	_, err = pgx.ForEachRow(rows, []any{&r, &l}, func() error { fl.lowerOf[r] = l; return nil })
	if err != nil {
		return nil, fmt.Errorf("locking flood counts of %d talents: %w", len(talents), err)
	}

	if rows, err = br.Query(); err != nil {
		return nil, fmt.Errorf("counting recent emails of %d talents: %w", len(talents), err)
	}
	var talent string
	var exists bool
	var secs, n *int
	var lp *string
	_, err = pgx.ForEachRow(rows, []any{&talent, &exists, &secs, &lp, &n}, func() error {
		if !exists {
			fl.gone[talent] = true
		}
		if lp != nil {
			fl.recent[countKey{*secs, *lp, talent}] = *n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting recent emails of %d talents: %w", len(talents), err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("counting recent emails: %w", err)
	}
	return fl, nil
}

// Discard forgets the buffered emails (their transaction was rolled back).
func (q *Queuer) Discard() {
	q.pending = nil
	q.queued = false
}

// varsFor builds the template variables of a profile row that come from the row
// (see templateVars: the rest are filled in when the email is rendered).
func varsFor(r change.Row, from, to string) templateVars {
	v := templateVars{
		TalentName:      strings.TrimSpace(r.Str("name")),
		TalentEmail:     strings.TrimSpace(r.Str("email")),
		TalentID:        r.Str("id"),
		Status:          to,
		PreviousStatus:  from,
		RejectionReason: r.Str("rejection_reason"),
		SubmittedAt:     formatTime(r["submitted_at"]),
	}
	if v.TalentName == "" {
		v.TalentName = "there"
	}
	return v
}

// formatTime renders an instant column (rowjson.Time's RFC 3339) for people.
func formatTime(v any) string {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}
