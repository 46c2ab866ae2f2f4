package mediaguard

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// TestGuardTriggersFireOnEveryGuardedColumn: each guard trigger fires on INSERT and
// on an UPDATE of exactly the columns guardedColumns names (migration
// 20261203210000). A column missing from the trigger's list could be updated
// without the database's check; one missing from guardedColumns would not be
// checked by the sidecar or `sidecar media scan`.
func TestGuardTriggersFireOnEveryGuardedColumn(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	for table, want := range GuardedColumns() {
		rows, err := db.Pool.Query(ctx, `
			select (t.tgtype & 4 <> 0) as on_insert, (t.tgtype & 16 <> 0) as on_update,
			       array(select a.attname::text from unnest(t.tgattr) k join pg_attribute a
			              on a.attrelid = t.tgrelid and a.attnum = k order by 1) as cols
			  from pg_trigger t
			 where t.tgrelid = ('public.' || $1)::regclass and not t.tgisinternal
			   and t.tgfoid = ('private.' || $1 || '_media_guard')::regproc`, table)
		require.NoError(t, err)
		type trig struct {
			OnInsert, OnUpdate bool
			Cols               []string
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[trig])
		require.NoError(t, err)
		require.Len(t, got, 1, "%s: one guard trigger", table)
		slices.Sort(want)
		require.True(t, got[0].OnInsert, "%s: the guard fires on insert", table)
		require.True(t, got[0].OnUpdate, "%s: the guard fires on update", table)
		require.Equal(t, want, got[0].Cols, "%s: the guard trigger's UPDATE OF columns", table)
	}
}
