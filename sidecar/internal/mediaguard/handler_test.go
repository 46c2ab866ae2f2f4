package mediaguard

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

const pngB64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

// newUser inserts an auth user and returns its id.
func newUser(t *testing.T, db *testdb.DB, email string) string {
	t.Helper()
	var id string
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`insert into auth.users (id, email) values (gen_random_uuid(), $1) returning id::text`, email).Scan(&id))
	return id
}

// rowEvent reads a talent_profiles row as the change stream would carry it.
func rowEvent(t *testing.T, db *testdb.DB, op change.Op, id string, old change.Row) *change.Event {
	t.Helper()
	var raw []byte
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`select to_jsonb(t) from public.talent_profiles t where id = $1`, id).Scan(&raw))
	row, err := rowjson.Decode(raw)
	require.NoError(t, err)
	lsn := lastLSN.Add(1) // each read is a change of its own transaction
	return &change.Event{Source: change.SourceReplication, Schema: "public", Table: "talent_profiles", Op: op, New: row, Old: old,
		CommitLSN: lsn, Key: change.StreamKey("talent_profiles", id, lsn)}
}

// lastLSN numbers the transactions of the rows tests read.
var lastLSN atomic.Uint64

// handle gives ev to h as the pipeline does: only if h watches it.
func handle(t *testing.T, db *testdb.DB, h *Handler, ev *change.Event) {
	t.Helper()
	ctx := context.Background()
	if !h.Watches().Matches(ev) {
		return
	}
	require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return h.Handle(ctx, tx, ev) }))
}

func TestHandlerRecordsBypassedViolationsOnce(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	uid := newUser(t, db, "bypass@example.com")

	// The trigger refuses the write...
	_, err := db.Pool.Exec(ctx, `insert into public.talent_profiles (user_id, name, freeform_text) values ($1, 'B', $2)`,
		uid, "data:image/png;base64,"+pngB64)
	require.ErrorContains(t, err, "inline media refused in talent_profiles.freeform_text")

	// ...so bypass it, as a restore or a careless operator would.
	_, err = db.Pool.Exec(ctx, `alter table public.talent_profiles disable trigger talent_profiles_z_media_guard`)
	require.NoError(t, err)
	var id string
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.talent_profiles (user_id, name, freeform_text, predefined_answers)
		values ($1, 'B', $2, $3) returning id::text`, uid, "data:image/png;base64,"+pngB64,
		`{"intro": "fine", "clip": "`+pngB64+`"}`).Scan(&id))

	reg := prometheus.NewRegistry()
	h, err := NewHandler(testlog.New(t), reg)
	require.NoError(t, err)
	ev := rowEvent(t, db, change.Insert, id, nil)
	handle(t, db, h, ev)
	handle(t, db, h, ev) // the same event again (redelivery, or both inputs) records nothing new

	rows, err := db.Pool.Query(ctx, `select column_name, path, kind, coalesce(guessed_type, ''), row_id::text, event_key
		from public.media_violations order by column_name, path`)
	require.NoError(t, err)
	type rec struct{ Col, Path, Kind, Type, Row, Key string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	require.NoError(t, err)
	require.Equal(t, []rec{
		{"freeform_text", "freeform_text", KindDataURI, "image/png", id, ev.Key},
		{"predefined_answers", "predefined_answers.clip", KindBase64Media, "image/png", id, ev.Key},
	}, got)
	require.Equal(t, map[string]float64{
		"talent_profiles/freeform_text/data-uri":          1,
		"talent_profiles/predefined_answers/base64-media": 1,
	}, counterValues(t, reg))

	// An unrelated later update does not re-report the legacy values.
	_, err = db.Pool.Exec(ctx, `update public.talent_profiles set name = 'C' where id = $1`, id)
	require.NoError(t, err)
	old := ev.New
	handle(t, db, h, rowEvent(t, db, change.Update, id, old))
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.media_violations`).Scan(&n))
	require.Equal(t, 2, n)
}

func TestHandlerIgnoresCleanRowsAndOtherTables(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	uid := newUser(t, db, "clean@example.com")
	var id string
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.talent_profiles (user_id, name, freeform_text, headshot_urls)
		values ($1::uuid, 'Clean', 'My data: ten years of base64-free prose.', array['http://127.0.0.1:54321/storage/v1/object/public/headshots/' || $1::text || '/a.jpg'])
		returning id::text`, uid).Scan(&id))
	h, err := NewHandler(testlog.New(t), prometheus.NewRegistry())
	require.NoError(t, err)
	handle(t, db, h, rowEvent(t, db, change.Insert, id, nil))
	handle(t, db, h, &change.Event{Source: change.SourceReplication, Schema: "public", Table: "admin_actions", Op: change.Insert, Key: "x",
		New: change.Row{"action_reason": "data:image/png;base64," + pngB64}})
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.media_violations`).Scan(&n))
	require.Equal(t, 0, n)
}

func TestMediaViolationsOnlyAdminsRead(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	admin := newUser(t, db, "admin@example.com")
	talent := newUser(t, db, "talent@example.com")
	_, err := db.Pool.Exec(ctx, `insert into public.admin_users (id, role) values ($1, 'admin')`, admin)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `insert into public.media_violations (event_key, table_name, column_name, path, size, kind, reason)
		values ('k', 'talent_profiles', 'freeform_text', 'freeform_text', 10, 'data-uri', 'r')`)
	require.NoError(t, err)
	count := func(sub string) (n int) {
		require.NoError(t, testdb.AsRole(ctx, db.Pool, "authenticated", sub, "x@example.com", func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select count(*) from public.media_violations`).Scan(&n)
		}))
		return n
	}
	require.Equal(t, 1, count(admin))
	require.Equal(t, 0, count(talent))
	err = testdb.AsRole(ctx, db.Pool, "authenticated", admin, "a@example.com", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into public.media_violations (event_key, table_name, column_name, path, size, kind, reason)
			values ('k2', 't', 'c', 'p', 1, 'data-uri', 'r')`)
		return err
	})
	require.ErrorContains(t, err, "42501")
}

// counterValues gathers media_violations_total as "table/column/kind" -> value.
func counterValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "media_violations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["table"]+"/"+l["column"]+"/"+l["kind"]] = m.GetCounter().GetValue()
		}
	}
	return out
}
