package talentstatus

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// The table is the database's: for every pair of statuses the migrated database
// knows, private.talent_transition_actor names the same actor as Transitions, or
// none where Transitions has no transition.
func TestTransitionsMatchTheDatabase(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `select f::text, t::text, coalesce(private.talent_transition_actor(f, t), '')
		from unnest(enum_range(null::public.talent_status)) f, unnest(enum_range(null::public.talent_status)) t`)
	require.NoError(t, err)
	defer rows.Close()
	pairs := 0
	want := map[[2]string]string{}
	for _, tr := range Transitions {
		want[[2]string{tr.From, tr.To}] = tr.Actor
	}
	for rows.Next() {
		var from, to, actor string
		require.NoError(t, rows.Scan(&from, &to, &actor))
		pairs++
		got, ok := Lookup(from, to)
		require.Equal(t, actor != "", ok, "%s -> %s", from, to)
		require.Equal(t, actor, got.Actor, "%s -> %s", from, to)
		delete(want, [2]string{from, to})
	}
	require.NoError(t, rows.Err())
	require.Greater(t, pairs, 1)
	require.Empty(t, want, "transitions between statuses the database does not have")
	for _, tr := range Transitions {
		require.Equal(t, tr.Actor == Admin, tr.Action != "", "%s -> %s: admins' transitions, and only theirs, are audited", tr.From, tr.To)
	}
}
