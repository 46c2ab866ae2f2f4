package email

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// rowJSON reads a row the way the webhook input decodes it (to_jsonb).
func rowJSON(t testing.TB, pool *pgxpool.Pool, query string, args ...any) change.Row {
	t.Helper()
	var raw []byte
	require.NoError(t, pool.QueryRow(context.Background(), query, args...).Scan(&raw))
	r, err := rowjson.Decode(raw)
	require.NoError(t, err)
	return r
}

// handler is the pipeline's Handler, declared here as the pipeline sees it.
type handler interface {
	Watches() change.Watch
	Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error
	Flush(ctx context.Context, tx pgx.Tx) error
	Discard()
	Committed(ctx context.Context)
}

// lastRecord numbers the events tests build as change records.
var lastRecord atomic.Int64

// handle runs handlers in one transaction the way the pipeline does with a claimed
// change record (Handle for the handlers that watch it, then Flush before commit,
// Discard on failure), then Committed. An event without an id is given one, and its
// key, as a claimed record has.
func handle(t testing.TB, pool *pgxpool.Pool, ev *change.Event, hs ...handler) {
	t.Helper()
	ctx := context.Background()
	if ev.ID == 0 && !ev.Notice {
		ev.ID = lastRecord.Add(1)
	}
	if ev.Key == "" {
		ev.Key = change.RecordKey(ev.ID)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, h := range hs {
			if !h.Watches().Matches(ev) {
				continue
			}
			if err := h.Handle(ctx, tx, ev); err != nil {
				return err
			}
		}
		for _, h := range hs {
			if err := h.Flush(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, h := range hs {
			h.Discard()
		}
	}
	require.NoError(t, err)
	for _, h := range hs {
		h.Committed(ctx)
	}
}

type fixture struct {
	db    *testdb.DB
	pool  *pgxpool.Pool
	live  *Live
	queue *Queuer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db := testdb.New(t)
	f := &fixture{db: db, pool: db.Pool, live: NewLive(db.Pool, testlog.New(t))}
	require.NoError(t, f.live.Load(context.Background()))
	f.queue = NewQueuer(f.live, nil, testlog.New(t))
	return f
}

// newTalent creates a user and a draft profile, returning the profile id.
func (f *fixture) newTalent(t testing.TB, name, email string) string {
	t.Helper()
	ctx := context.Background()
	var uid, id string
	require.NoError(t, f.pool.QueryRow(ctx, `insert into auth.users (id, email) values (gen_random_uuid(), $1) returning id::text`, email).Scan(&uid))
	require.NoError(t, f.pool.QueryRow(ctx, `insert into talent_profiles (user_id, name, email) values ($1::uuid, $2, $3) returning id::text`, uid, name, email).Scan(&id))
	return id
}

// move changes status as the service role and feeds the change to the handlers.
func (f *fixture) move(t testing.TB, id, to, reason string, hs ...handler) *change.Event {
	t.Helper()
	old := rowJSON(t, f.pool, `select to_jsonb(p) from talent_profiles p where id = $1::uuid`, id)
	_, err := f.pool.Exec(context.Background(), `update talent_profiles set status = $2, rejection_reason = coalesce($3, rejection_reason) where id = $1::uuid`, id, to, nullIfEmpty(reason))
	require.NoError(t, err)
	ev := &change.Event{Source: change.SourceWebhook, Schema: "public", Table: "talent_profiles", Op: change.Update,
		Old: old, New: rowJSON(t, f.pool, `select to_jsonb(p) from talent_profiles p where id = $1::uuid`, id), At: time.Now()}
	if len(hs) == 0 {
		hs = []handler{f.live, f.queue}
	}
	handle(t, f.pool, ev, hs...)
	return ev
}

type notification struct {
	Type, To, Subject, HTML, Text, Status, LastError, Key string
	Attempts                                              int
}

// notifications lists the emails, each with its subject and bodies as the outbox
// would render them now (a queued row stores only its template variables).
func (f *fixture) notifications(t testing.TB) []notification {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `select email_type, recipient_email, coalesce(subject, ''),
		coalesce(content, ''), coalesce(text_content,''), status, coalesce(last_error,''), idempotency_key, attempts,
		case when content is null then template_vars::text end
		from email_notifications order by created_at, email_type, recipient_email`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notification, error) {
		var n notification
		var vars *string
		if err := r.Scan(&n.Type, &n.To, &n.Subject, &n.HTML, &n.Text, &n.Status, &n.LastError, &n.Key, &n.Attempts, &vars); err != nil {
			return n, err
		}
		if vars != nil {
			rendered, err := f.live.RenderStored(n.Type, []byte(*vars))
			if err != nil {
				return n, err
			}
			n.Subject, n.HTML, n.Text = rendered.Subject, rendered.HTML, rendered.Text
		}
		return n, nil
	})
	require.NoError(t, err)
	return out
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
