package pipeline

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// A claim reads a talent record's snapshot as text arrays, not jsonb. The rows it
// builds equal what decoding the record's jsonb gives, key for key and value for
// value (nulls, instants), and talentSnapshot names exactly the keys the database's
// snapshot function writes.
func TestClaimedSnapshotEqualsTheRecord(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	var talent string
	require.NoError(t, db.Pool.QueryRow(ctx, `
		with u as (insert into auth.users (id, email) values (gen_random_uuid(), 'snap@example.com') returning id, email)
		insert into public.talent_profiles (user_id, name, email) select id, 'Snap Shot', email from u returning id::text`).Scan(&talent))
	_, err := db.Pool.Exec(ctx, `update public.talent_profiles set status = 'submitted' where id = $1`, talent)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `update public.talent_profiles set status = 'rejected', rejection_reason = 'Quiet "take"' where id = $1`, talent)
	require.NoError(t, err)

	var keys []string
	rows, err := db.Pool.Query(ctx, `select distinct k from sidecar.changes, jsonb_object_keys(new_row) k order by 1`)
	require.NoError(t, err)
	keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	want := slices.Clone(talentSnapshot)
	slices.Sort(want)
	require.Equal(t, want, keys, "talentSnapshot must name the keys the state machine's record holds")

	type rec struct {
		ID       int64
		Old, New []byte
	}
	rows, err = db.Pool.Query(ctx, `select id, old_row, new_row from sidecar.changes order by id`)
	require.NoError(t, err)
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	require.NoError(t, err)
	require.Len(t, recs, 2)

	p := New(Config{}, db.Pool, func() []Handler { return nil }, nil, testlog.New(t), nil)
	w := p.workers[0]
	var claimed []*change.Event
	require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		claimed, err = w.claim(ctx, tx, []item{{ev: &change.Event{Notice: true, ID: recs[1].ID, RowKey: "talent:" + talent}}})
		return err
	}))
	require.Len(t, claimed, 2)
	for i, r := range recs {
		old, err := rowjson.Decode(r.Old)
		require.NoError(t, err)
		nw, err := rowjson.Decode(r.New)
		require.NoError(t, err)
		require.Equal(t, old, claimed[i].Old, "record %d: old row", r.ID)
		require.Equal(t, nw, claimed[i].New, "record %d: new row", r.ID)
	}
	require.Equal(t, "Quiet \"take\"", claimed[1].New.Str("rejection_reason"))
	require.NotEmpty(t, claimed[1].New.Str("submitted_at"))
}

// Every snapshot a talent's record holds, the state machine's of an update (old and
// new row) and the delete trigger's (old row), has exactly talentSnapshot's keys.
func TestEveryTalentSnapshotHasTheClaimedKeys(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	var talent string
	require.NoError(t, db.Pool.QueryRow(ctx, `
		with u as (insert into auth.users (id, email) values (gen_random_uuid(), 'keys@example.com') returning id, email)
		insert into public.talent_profiles (user_id, name, email) select id, 'Key Ring', email from u returning id::text`).Scan(&talent))
	for _, sql := range []string{
		`update public.talent_profiles set status = 'submitted' where id = $1`,
		`delete from public.talent_profiles where id = $1`,
	} {
		_, err := db.Pool.Exec(ctx, sql, talent)
		require.NoError(t, err)
	}
	rows, err := db.Pool.Query(ctx, `
		select op || ' ' || side, array_agg(k order by k)
		  from sidecar.changes c
		  cross join lateral (values ('old_row', c.old_row), ('new_row', c.new_row)) s (side, snap)
		  cross join lateral jsonb_object_keys(s.snap) k
		 where c.row_key = 'talent:' || $1
		 group by 1 order by 1`, talent)
	require.NoError(t, err)
	type snap struct {
		Which string
		Keys  []string
	}
	snaps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[snap])
	require.NoError(t, err)
	want := slices.Clone(talentSnapshot)
	slices.Sort(want)
	require.Equal(t, []snap{{"DELETE old_row", want}, {"UPDATE new_row", want}, {"UPDATE old_row", want}}, snaps)
}
