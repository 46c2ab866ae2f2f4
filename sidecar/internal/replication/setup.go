package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tables are the tables the pipeline consumes; the publication publishes only these.
var Tables = []string{
	"public.talent_profiles",
	"public.onboarding_progress",
	"public.email_settings",
	"public.email_templates",
}

// EnsurePublication creates the publication when missing and adds any of Tables it
// lacks (a publication created by an older release grows; nothing is ever removed,
// so an operator's additions survive).
func EnsurePublication(ctx context.Context, pool *pgxpool.Pool, name string) error {
	var exists bool
	if err := pool.QueryRow(ctx, `select exists (select 1 from pg_publication where pubname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("checking publication %s: %w", name, err)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if !exists {
		_, err := pool.Exec(ctx, fmt.Sprintf("create publication %s for table %s", ident, strings.Join(Tables, ", ")))
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42710") { // created concurrently
			return fmt.Errorf("creating publication %s: %w", name, err)
		}
		return nil
	}
	rows, err := pool.Query(ctx, `select schemaname || '.' || tablename from pg_publication_tables where pubname = $1`, name)
	if err != nil {
		return fmt.Errorf("listing tables of publication %s: %w", name, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("listing tables of publication %s: %w", name, err)
	}
	for _, t := range Tables {
		found := false
		for _, h := range have {
			found = found || h == t
		}
		if !found {
			if _, err := pool.Exec(ctx, fmt.Sprintf("alter publication %s add table %s", ident, t)); err != nil {
				return fmt.Errorf("adding %s to publication %s: %w", t, name, err)
			}
		}
	}
	return nil
}

// EnsureSlot creates the logical slot (pgoutput) when missing and returns its
// confirmed position, where streaming resumes. Slot names are cluster-wide: a slot
// of that name on another database is refused, never consumed.
func EnsureSlot(ctx context.Context, pool *pgxpool.Pool, slot string) (uint64, error) {
	read := func() (lsn *string, db string, err error) {
		err = pool.QueryRow(ctx, `select confirmed_flush_lsn::text, coalesce(database, '')
			from pg_replication_slots where slot_name = $1`, slot).Scan(&lsn, &db)
		return
	}
	lsn, db, err := read()
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42710") {
			return 0, fmt.Errorf("creating replication slot %s: %w", slot, err)
		}
		lsn, db, err = read()
	}
	if err != nil {
		return 0, fmt.Errorf("reading replication slot %s: %w", slot, err)
	}
	var here string
	if err := pool.QueryRow(ctx, `select current_database()`).Scan(&here); err != nil {
		return 0, fmt.Errorf("reading database name: %w", err)
	}
	if db != here || lsn == nil {
		return 0, fmt.Errorf("replication slot %s belongs to database %q, not %q, or is not logical: choose another REPLICATION_SLOT", slot, db, here)
	}
	return parseLSN(*lsn)
}

func parseLSN(s string) (uint64, error) {
	l, err := pglogrepl.ParseLSN(s)
	return uint64(l), err
}
