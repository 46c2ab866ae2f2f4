package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// The batch insert probes talent_profiles by primary key, once per row, however many
// talents exist: with 2,000 talents, a batch of 500 rows (a full default batch)
// reads 500 profiles and scans nothing. The rows it writes are right too: an
// existing talent keeps its id, a deleted one is logged with the record's actor and
// no id, and a delete without an actor is not an admin action.
func TestInsertProbesTalentsByKey(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `
		with u as (
		  insert into auth.users (id, email)
		  select gen_random_uuid(), 'user' || i || '@example.com' from generate_series(1, 2000) i
		  returning id, email)
		insert into public.talent_profiles (user_id, name, email) select id, email, email from u;
		analyze public.talent_profiles`)
	require.NoError(t, err)
	rows, err := db.Pool.Query(ctx, `select id::text from public.talent_profiles limit 498`)
	require.NoError(t, err)
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	admin := "00000000-0000-4000-8000-0000000000ad"
	deleted, deleter := "00000000-0000-4000-8000-0000000000de", "00000000-0000-4000-8000-0000000000df"
	anonymous := "00000000-0000-4000-8000-000000000001" // deleted by ops: no actor

	// The batch, through Handle as the pipeline builds it.
	h := New()
	talent := func(id, status string) change.Row {
		return change.Row{"id": id, "status": status, "email": "x@example.com", "name": "X"}
	}
	for i, id := range kept {
		ev := &change.Event{Source: change.SourceReplication, Schema: "public", Table: "talent_profiles", Op: change.Update,
			Old: talent(id, "approved"), New: talent(id, "active"), Key: fmt.Sprint("k", i), At: time.Now(),
			ID: int64(i + 1), ActorID: admin, ActorRole: "admin"}
		require.NoError(t, h.Handle(ctx, nil, ev))
	}
	for i, d := range []struct{ id, by, role string }{{deleted, deleter, "super_admin"}, {anonymous, "", "service"}} {
		ev := &change.Event{Source: change.SourceReplication, Schema: "public", Table: "talent_profiles", Op: change.Delete,
			Old: talent(d.id, "active"), Key: d.id, At: time.Now(), ID: int64(1000 + i), ActorID: d.by, ActorRole: d.role}
		require.NoError(t, h.Handle(ctx, nil, ev))
	}
	require.Equal(t, 499, h.pending.len(), "498 transitions and one delete with an actor")

	// Both forms of the insert (see ideminsert); the second run, with every key
	// present, inserts nothing.
	for _, sql := range []string{h.insert.Plain(), h.insert.OnConflict()} {
		plan := testdb.ExplainAnalyze(t, db.Pool, sql, h.pending.args()...)
		t.Log(plan.Text)
		require.NotContains(t, plan.Text, "Seq Scan")
		require.LessOrEqual(t, plan.RowsRead("talent_profiles"), 500.0)
	}

	got := map[string][2]string{}
	rows, err = db.Pool.Query(ctx, `select idempotency_key, coalesce(talent_profile_id::text, '-'), coalesce(admin_user_id::text, '-')
		from public.admin_actions`)
	require.NoError(t, err)
	var k, id, by string
	_, err = pgx.ForEachRow(rows, []any{&k, &id, &by}, func() error { got[k] = [2]string{id, by}; return nil })
	require.NoError(t, err)
	want := map[string][2]string{deleted + keySuffix: {"-", deleter}}
	for i, id := range kept {
		want[fmt.Sprint("k", i, keySuffix)] = [2]string{id, admin}
	}
	require.Equal(t, want, got)
}

// admin_actions names its talent without a foreign key (migration 20261122000200);
// the batch insert's lookup takes the lock a foreign key would. A talent named by an
// uncommitted audit row cannot be deleted until that row commits, and its deletion
// then sets the reference to null. A talent whose deletion is in flight when the
// batch is written is waited for and, once the deletion commits, written as null.
func TestInsertLocksTalentAgainstDeletion(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	newTalent := func(email string) string {
		var id string
		require.NoError(t, db.Pool.QueryRow(ctx, `
			with u as (insert into auth.users (id, email) values (gen_random_uuid(), $1) returning id, email)
			insert into public.talent_profiles (user_id, name, email) select id, email, email from u returning id::text`, email).Scan(&id))
		return id
	}
	approve := func(id, key string) *Handler {
		h := New()
		row := func(status string) change.Row {
			return change.Row{"id": id, "status": status, "email": "x@example.com", "name": "X"}
		}
		require.NoError(t, h.Handle(ctx, nil, &change.Event{Source: change.SourceReplication, Schema: "public", Table: "talent_profiles",
			Op: change.Update, Old: row("submitted"), New: row("approved"), Key: key, At: time.Now(),
			ID: 1, ActorID: "00000000-0000-4000-8000-0000000000ad", ActorRole: "admin"}))
		return h
	}
	ref := func(key string) *string {
		var id *string
		require.NoError(t, db.Pool.QueryRow(ctx, `select talent_profile_id::text from public.admin_actions where idempotency_key = $1`,
			key+keySuffix).Scan(&id))
		return id
	}

	// The audit row first: the deletion waits for it.
	first := newTalent("first@example.com")
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // on failure, before the database is dropped
	require.NoError(t, approve(first, "a1").Flush(ctx, tx))
	_, err = db.Pool.Exec(ctx, `set lock_timeout = '200ms'; delete from public.talent_profiles where id = '`+first+`'`)
	require.Error(t, err)
	require.Contains(t, err.Error(), "lock timeout", "the deletion must wait for the uncommitted audit row")
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, first, *ref("a1"))
	tag, err := db.Pool.Exec(ctx, `delete from public.talent_profiles where id = $1`, first)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	require.Nil(t, ref("a1"), "deleting the talent sets the audit row's reference to null")

	// The deletion first: the batch waits for it, then writes null.
	second := newTalent("second@example.com")
	del, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = del.Rollback(ctx) })
	_, err = del.Exec(ctx, `delete from public.talent_profiles where id = $1`, second)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return approve(second, "a2").Flush(ctx, tx) })
	}()
	select {
	case err := <-done:
		t.Fatalf("the batch did not wait for the deletion in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, del.Commit(ctx))
	require.NoError(t, <-done)
	require.Nil(t, ref("a2"), "a talent deleted while the batch waited is written as null")
}

// Every admin edit is logged with the old and new values of the admin columns it
// changed: a notes edit alone is an 'edit', a rejection carries its reason and the
// rejection_reason it set, and a talent's own submit logs nothing.
func TestAdminEditsAreLogged(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	admin := "00000000-0000-4000-8000-0000000000ad"
	id := "00000000-0000-4000-8000-0000000000f1"
	row := func(status, notes, reason string) change.Row {
		r := change.Row{"id": id, "status": status, "email": "x@example.com", "name": "X", "admin_notes": nil, "rejection_reason": nil}
		if notes != "" {
			r["admin_notes"] = notes
		}
		if reason != "" {
			r["rejection_reason"] = reason
		}
		return r
	}
	ev := func(n int64, role string, old, new change.Row, why string) *change.Event {
		return &change.Event{Source: change.SourceCatchUp, Schema: "public", Table: "talent_profiles", Op: change.Update,
			Old: old, New: new, ID: n, Key: change.RecordKey(n), At: time.Now(), ActorID: admin, ActorRole: role, Reason: why}
	}
	h := New()
	for _, e := range []*change.Event{
		ev(1, "talent", row("draft", "", ""), row("submitted", "", ""), ""),
		ev(2, "admin", row("submitted", "", ""), row("submitted", "looks good", ""), ""),
		ev(3, "admin", row("submitted", "looks good", ""), row("rejected", "looks good", "no audio"), ""),
		ev(4, "admin", row("rejected", "looks good", "no audio"), row("draft", "looks good", "no audio"), "asked to redo the video"),
	} {
		require.NoError(t, h.Handle(ctx, nil, e))
	}
	require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return h.Flush(ctx, tx) }))

	rows, err := db.Pool.Query(ctx, `select change_id, action_type, coalesce(action_reason, ''), coalesce(changed_columns::text, ''),
		admin_user_id::text, source from public.admin_actions order by change_id`)
	require.NoError(t, err)
	type logged struct {
		ID                     int64
		Action, Reason, Change string
		By, Source             string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[logged])
	require.NoError(t, err)
	require.Equal(t, []logged{
		{2, "edit", "", `{"admin_notes": {"new": "looks good", "old": null}}`, admin, "catchup"},
		{3, "reject", "no audio", `{"rejection_reason": {"new": "no audio", "old": null}}`, admin, "catchup"},
		{4, "reopen", "asked to redo the video", "", admin, "catchup"},
	}, got)
}
