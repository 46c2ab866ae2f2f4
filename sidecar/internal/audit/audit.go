// Package audit writes the admin audit log (public.admin_actions): one row for every
// admin transition of a talent's status, admin edit and delete, from the change
// record the database wrote in the changing transaction, so nothing an admin does
// can skip the log and nothing is logged twice.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/ideminsert"
	"github.com/talent-onboarding/backend/sidecar/internal/talentstatus"
)

// keySuffix is appended to the event key to form the audit row's idempotency key.
const keySuffix = "/audit"

// adminColumns are the talent columns only admins set; a change to any of them is
// logged with its old and new value.
var adminColumns = []string{"admin_notes", "rejection_reason"}

// Handler is the pipeline handler of the audit log. It is used by one pipeline
// worker at a time (Handle, then Flush or Discard), which is what the pipeline does.
type Handler struct {
	pending rows
	insert  *ideminsert.Insert
}

// New returns the audit handler.
func New() *Handler {
	return &Handler{insert: ideminsert.New(insertSQL, "on conflict (idempotency_key) do nothing", "")}
}

// Watches names the change records of talent_profiles and of email_notifications
// (an admin's re-send, recorded by admin_resend_email).
func (h *Handler) Watches() change.Watch {
	return change.Watch{Records: []string{"talent_profiles", "email_notifications"}}
}

// rows holds buffered audit rows column by column, the shape of the unnest insert.
type rows struct {
	talentID    []string
	action      []string
	reason      []*string
	adminID     []*string
	from, to    []*string
	email, name []*string
	source      []string
	key         []string
	at          []time.Time
	changed     []*string // JSON
	changeID    []int64
}

func (r *rows) len() int { return len(r.key) }

// args are insertSQL's parameters.
func (r *rows) args() []any {
	return []any{r.talentID, r.action, r.reason, r.adminID, r.from, r.to, r.email, r.name, r.source, r.key, r.at, r.changed, r.changeID}
}

// Handle buffers the audit row of a talent's change record, if it is an admin
// action: an admin transition of the state machine, an edit of the admin columns,
// or a delete through the API. The row is written by Flush in the same transaction.
func (h *Handler) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if ev.Table == "email_notifications" {
		return h.resend(ev)
	}
	var action, from, to string
	var snap change.Row
	switch ev.Op {
	case change.Update:
		if ev.Old == nil || ev.New == nil {
			return fmt.Errorf("auditing %s: an update must carry the old and the new row", ev.Key)
		}
		from, to = ev.Old.Str("status"), ev.New.Str("status")
		// A talent's own submit, or no status change, is no admin action.
		tr, _ := talentstatus.Lookup(from, to)
		action = tr.Action
		snap = ev.New
	case change.Delete:
		if ev.Old == nil {
			return fmt.Errorf("auditing %s: a delete must carry the old row", ev.Key)
		}
		// Only a delete someone made through the API is an admin action (the
		// database lets only super admins delete there); an ops delete or a cascade
		// from auth.users has no actor.
		if ev.ActorID == "" {
			return nil
		}
		action, from, snap = "delete", ev.Old.Str("status"), ev.Old
	default:
		return nil
	}
	changed, err := adminChanges(ev)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", ev.Key, err)
	}
	if action == "" && changed != nil && ev.ActorRole != "talent" {
		action = "edit"
	}
	if action == "" {
		return nil
	}
	id := snap.Str("id")
	if id == "" {
		return fmt.Errorf("auditing %s: row has no id", ev.Key)
	}
	reason := ev.Reason
	if reason == "" && action == "reject" {
		reason = snap.Str("rejection_reason")
	}
	h.add(ev, id, action, reason, from, to, snap.Str("email"), snap.Str("name"), changed)
	return nil
}

// resend buffers the audit row of an admin's re-send of an email: the email, its
// status before and after, the recipient; the talent it was about, if still known.
func (h *Handler) resend(ev *change.Event) error {
	if ev.New == nil || ev.Old == nil {
		return fmt.Errorf("auditing %s: a re-send must carry the email before and after", ev.Key)
	}
	changed, err := json.Marshal(map[string]any{"email_notification": map[string]any{
		"id": ev.New["id"], "email_type": ev.New["email_type"], "recipient_email": ev.New["recipient_email"],
		"old_status": ev.Old["status"], "new_status": ev.New["status"]}})
	if err != nil {
		return fmt.Errorf("auditing %s: %w", ev.Key, err)
	}
	c := string(changed)
	h.add(ev, ev.New.Str("talent_profile_id"), "resend_email", ev.Reason, "", "", ev.New.Str("recipient_email"), "", &c)
	return nil
}

// add buffers one audit row.
func (h *Handler) add(ev *change.Event, talent, action, reason, from, to, email, name string, changed *string) {
	p := &h.pending
	p.talentID = append(p.talentID, talent)
	p.action = append(p.action, action)
	p.reason = append(p.reason, ideminsert.NullIfEmpty(reason))
	p.adminID = append(p.adminID, ideminsert.NullIfEmpty(ev.ActorID))
	p.from = append(p.from, ideminsert.NullIfEmpty(from))
	p.to = append(p.to, ideminsert.NullIfEmpty(to))
	p.email = append(p.email, ideminsert.NullIfEmpty(email))
	p.name = append(p.name, ideminsert.NullIfEmpty(name))
	p.source = append(p.source, string(ev.Source))
	p.key = append(p.key, ev.Key+keySuffix)
	p.at = append(p.at, ev.At)
	p.changed = append(p.changed, changed)
	p.changeID = append(p.changeID, ev.ID)
}

// adminChanges returns, as JSON, the old and new value of each admin column an
// update changed, or nil when it changed none.
func adminChanges(ev *change.Event) (*string, error) {
	if ev.Op != change.Update {
		return nil, nil
	}
	out := map[string]map[string]any{}
	for _, c := range adminColumns {
		o, n := ev.Old[c], ev.New[c]
		if o != n {
			out[c] = map[string]any{"old": o, "new": n}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// insertSQL writes a batch in one statement. talent_profile_id is kept only while
// the talent exists (a deleted one is written as null, as deleting it would have set
// it); the key and the snapshot still name it. There is no foreign key (migration
// 20261122000200): this lookup takes the lock one would, FOR KEY SHARE, so a talent
// cannot be deleted while a row naming it is uncommitted, and its deletion then sets
// the row's reference to null. The lookup is a scalar subquery, one primary-key
// probe per row: written as a join, the planner hashed the whole of talent_profiles
// for every batch. A row whose key is already there is skipped: see ideminsert.
const insertSQL = `
insert into public.admin_actions
  (talent_profile_id, action_type, action_reason, admin_user_id, from_status, to_status,
   talent_email, talent_name, source, idempotency_key, committed_at, changed_columns, change_id)
select (select p.id from public.talent_profiles p where p.id = nullif(r.talent_id, '')::uuid for key share),
       r.action::public.admin_action_type, r.reason, r.admin_id::uuid,
       r.from_status::public.talent_status, r.to_status::public.talent_status,
       r.email, r.name, r.source, r.key, r.at, r.changed::jsonb, r.change_id
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::bigint[])
         with ordinality as r(talent_id, action, reason, admin_id, from_status, to_status,
                              email, name, source, key, at, changed, change_id, n)
 order by r.n`

// Flush writes the buffered rows with one statement.
func (h *Handler) Flush(ctx context.Context, tx pgx.Tx) error {
	p := &h.pending
	if p.len() == 0 {
		return nil
	}
	defer h.Discard()
	if _, err := h.insert.Run(ctx, tx, p.args()...); err != nil {
		return fmt.Errorf("inserting %d admin actions: %w", p.len(), err)
	}
	return nil
}

// Discard forgets buffered rows (their transaction was rolled back).
func (h *Handler) Discard() {
	h.pending = rows{}
}

// Committed has nothing to do: the rows are in the database.
func (h *Handler) Committed(context.Context) {}
