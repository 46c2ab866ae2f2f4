package ideminsert

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

const (
	insertSQL = `insert into keyed (k, n) select k, n from unnest($1::text[], $2::int[]) r(k, n)`
	conflict  = `on conflict (k) do nothing`
)

func setup(t *testing.T) *testdb.DB {
	t.Helper()
	db := testdb.New(t)
	_, err := db.Pool.Exec(context.Background(), `
		create table keyed (
		  id bigint generated always as identity primary key,
		  k text not null unique,
		  n int not null unique check (n >= 0))`)
	require.NoError(t, err)
	return db
}

// run inserts one batch in its own transaction and commits it.
func run(t *testing.T, db *testdb.DB, q *Insert, keys []string, ns []int) ([]string, error) {
	t.Helper()
	ctx := context.Background()
	var got []string
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var err error
		got, err = runIn(ctx, tx, q, keys, ns)
		return err
	})
	return got, err
}

// bothForms runs test against Inserts without and with a COPY form (with t.Parallel).
func bothForms(t *testing.T, test func(*testing.T, func(insert, conflict, returning string) *Insert)) {
	t.Run("insert", func(t *testing.T) {
		t.Parallel()
		test(t, New)
	})
	t.Run("copy", func(t *testing.T) {
		t.Parallel()
		test(t, func(insert, conflict, returning string) *Insert {
			return New(insert, conflict, returning).WithCopy(pgx.Identifier{"keyed"}, "k", "n")
		})
	})
}

// runIn runs a batch through q's COPY form if it has one, else through Run.
func runIn(ctx context.Context, tx pgx.Tx, q *Insert, keys []string, ns []int) ([]string, error) {
	if q.copySQL == "" {
		return q.Run(ctx, tx, keys, ns)
	}
	var returned []string // what a COPY returns in place of the RETURNING rows
	if strings.Contains(q.plain, "returning") {
		returned = keys
	}
	var rows Rows
	rows.Reset(2)
	for i := range keys {
		rows.Row()
		rows.Text(keys[i])
		rows.Int4(int32(ns[i]))
	}
	return q.RunCopy(ctx, tx, Batch{Args: func() []any { return []any{keys, ns} }, Rows: &rows, Keys: returned})
}

func contents(t *testing.T, db *testdb.DB) map[string]int {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `select k, n from keyed`)
	require.NoError(t, err)
	out := map[string]int{}
	var k string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	require.NoError(t, err)
	return out
}

// A batch of new keys goes in with the plain form and comes back whole.
func TestNewKeysInsertedPlainly(t *testing.T) { bothForms(t, testNewKeysInsertedPlainly) }

func testNewKeysInsertedPlainly(t *testing.T, New func(insert, conflict, returning string) *Insert) {
	db := setup(t)
	q := New(insertSQL, conflict, "returning k")
	got, err := run(t, db, q, []string{"a", "b", "c"}, []int{1, 2, 3})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, got)
	require.False(t, q.UsesOnConflict())
	require.Equal(t, map[string]int{"a": 1, "b": 2, "c": 3}, contents(t, db))
}

// A batch holding a key already present (or the same key twice) is inserted once,
// without the present row, and returns only the keys it added; the next onConflictRuns
// batches use the ON CONFLICT form, and the one after tries the plain form again.
func TestPresentKeysSkipped(t *testing.T) { bothForms(t, testPresentKeysSkipped) }

func testPresentKeysSkipped(t *testing.T, New func(insert, conflict, returning string) *Insert) {
	db := setup(t)
	q := New(insertSQL, conflict, "returning k")
	_, err := run(t, db, q, []string{"a"}, []int{1})
	require.NoError(t, err)

	got, err := run(t, db, q, []string{"a", "b", "c", "c"}, []int{10, 2, 3, 30})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c"}, got)
	require.True(t, q.UsesOnConflict())
	require.Equal(t, map[string]int{"a": 1, "b": 2, "c": 3}, contents(t, db))

	for i := 0; i < onConflictRuns; i++ {
		require.True(t, q.UsesOnConflict(), "batch %d after the conflict", i)
		got, err := run(t, db, q, []string{"a", "d" + string(rune('a'+i))}, []int{100 + i, 4 + i})
		require.NoError(t, err)
		require.Equal(t, []string{"d" + string(rune('a'+i))}, got)
	}
	require.False(t, q.UsesOnConflict())
	got, err = run(t, db, q, []string{"z"}, []int{99})
	require.NoError(t, err)
	require.Equal(t, []string{"z"}, got)
	require.Len(t, contents(t, db), 3+onConflictRuns+1)
}

// Without a RETURNING clause Run returns nothing, in both forms.
func TestNoReturning(t *testing.T) { bothForms(t, testNoReturning) }

func testNoReturning(t *testing.T, New func(insert, conflict, returning string) *Insert) {
	db := setup(t)
	q := New(insertSQL, conflict, "")
	got, err := run(t, db, q, []string{"a"}, []int{1})
	require.NoError(t, err)
	require.Nil(t, got)
	got, err = run(t, db, q, []string{"a", "b"}, []int{5, 2})
	require.NoError(t, err)
	require.Nil(t, got)
	require.Equal(t, map[string]int{"a": 1, "b": 2}, contents(t, db))
}

// Other failures are the caller's: a unique violation the ON CONFLICT clause does
// not cover fails both forms, and a check violation fails at once. Nothing of the
// batch is left behind.
func TestOtherErrorsReturned(t *testing.T) { bothForms(t, testOtherErrorsReturned) }

func testOtherErrorsReturned(t *testing.T, New func(insert, conflict, returning string) *Insert) {
	db := setup(t)
	q := New(insertSQL, conflict, "returning k")
	_, err := run(t, db, q, []string{"a"}, []int{1})
	require.NoError(t, err)

	_, err = run(t, db, q, []string{"b", "c"}, []int{2, 1}) // n = 1 is taken
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23505", pgErr.Code)
	require.Equal(t, "keyed_n_key", pgErr.ConstraintName)

	q = New(insertSQL, conflict, "returning k")
	_, err = run(t, db, q, []string{"d"}, []int{-1})
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23514", pgErr.Code)
	require.False(t, q.UsesOnConflict())
	require.Equal(t, map[string]int{"a": 1}, contents(t, db))
}

// Inside a caller's savepoint (the pipeline's per-event replay), a fallback leaves
// the caller's savepoint usable: rolling back to it undoes the batch.
func TestInsideCallerSavepoint(t *testing.T) { bothForms(t, testInsideCallerSavepoint) }

func testInsideCallerSavepoint(t *testing.T, New func(insert, conflict, returning string) *Insert) {
	db := setup(t)
	ctx := context.Background()
	q := New(insertSQL, conflict, "returning k")
	_, err := run(t, db, q, []string{"a"}, []int{1})
	require.NoError(t, err)
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "savepoint event"); err != nil {
			return err
		}
		got, err := runIn(ctx, tx, q, []string{"a", "b"}, []int{9, 2})
		require.NoError(t, err)
		require.Equal(t, []string{"b"}, got)
		if _, err := tx.Exec(ctx, "rollback to savepoint event"); err != nil {
			return err
		}
		got, err = runIn(ctx, tx, q, []string{"c"}, []int{3})
		require.NoError(t, err)
		require.Equal(t, []string{"c"}, got)
		_, err = tx.Exec(ctx, "release savepoint event")
		return err
	})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"a": 1, "c": 3}, contents(t, db))
}

// A COPY batch with a short row, or built for another width, is refused before
// anything is sent.
func TestCopyRowsMalformed(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	q := New(insertSQL, conflict, "").WithCopy(pgx.Identifier{"keyed"}, "k", "n")
	var short Rows
	short.Reset(2)
	short.Row()
	short.Text("a")
	var wide Rows
	wide.Reset(3)
	var middle Rows
	middle.Reset(2)
	middle.Row()
	middle.Text("a")
	middle.Row()
	middle.Text("b")
	middle.Int4(2)
	for _, rows := range []*Rows{&short, &wide, &middle} {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			_, err := q.RunCopy(ctx, tx, Batch{Args: func() []any { return []any{[]string{"a"}, []int{1}} }, Rows: rows})
			return err
		})
		require.Error(t, err)
		require.Contains(t, err.Error(), "ideminsert:")
	}
	require.Empty(t, contents(t, db))
}
