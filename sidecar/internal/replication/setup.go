package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
)

// Publication is one of the publications the stream reads, as EnsurePublication
// makes it: its tables and what it publishes (pg_publication's flags, in the order
// insert, update, delete, truncate).
type Publication struct {
	Name    string
	Tables  []string
	Publish string
}

// Publications are the publications the stream reads: name publishes the inserts
// into the change record table (the notices), name_media the inserts and updates of
// the guarded tables (for the media guard). Two publications, because the records
// must not publish their own updates (the sidecar marks every record processed, and
// each mark would be streamed back to it).
func Publications(name string) []Publication {
	return []Publication{
		{Name: name, Tables: []string{change.Records.QualifiedName()}, Publish: "insert"},
		{Name: name + "_media", Tables: change.Guarded(), Publish: "insert, update"},
	}
}

// publicationNames lists the names of Publications(name).
func publicationNames(name string) []string {
	var out []string
	for _, p := range Publications(name) {
		out = append(out, p.Name)
	}
	return out
}

// EnsurePublication creates or corrects the stream's publications (see
// Publications). They belong to the sidecar: a publication of that name that
// publishes anything else (a release before the change record published the tables
// themselves) is set to what this release reads.
func EnsurePublication(ctx context.Context, pool *pgxpool.Pool, name string) error {
	for _, p := range Publications(name) {
		if err := ensurePublication(ctx, pool, p.Name, p.Tables, p.Publish); err != nil {
			return err
		}
	}
	return nil
}

func ensurePublication(ctx context.Context, pool *pgxpool.Pool, name string, tables []string, publish string) error {
	ident := pgx.Identifier{name}.Sanitize()
	list := make([]string, len(tables))
	for i, t := range tables {
		schema, table, _ := strings.Cut(t, ".")
		list[i] = pgx.Identifier{schema, table}.Sanitize()
	}
	var exists bool
	var have []string
	var ops string
	err := pool.QueryRow(ctx, `
		select true,
		       array(select schemaname || '.' || tablename from pg_publication_tables t
		              where t.pubname = p.pubname order by 1),
		       concat_ws(', ', case when pubinsert then 'insert' end, case when pubupdate then 'update' end,
		                 case when pubdelete then 'delete' end, case when pubtruncate then 'truncate' end)
		  from pg_publication p where pubname = $1`, name).Scan(&exists, &have, &ops)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = pool.Exec(ctx, fmt.Sprintf("create publication %s for table %s with (publish = '%s')", ident, strings.Join(list, ", "), publish))
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42710") { // created concurrently
			return fmt.Errorf("creating publication %s: %w", name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading publication %s: %w", name, err)
	}
	want := append([]string(nil), tables...)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		if _, err := pool.Exec(ctx, fmt.Sprintf("alter publication %s set table %s", ident, strings.Join(list, ", "))); err != nil {
			return fmt.Errorf("setting the tables of publication %s: %w", name, err)
		}
	}
	if ops != publish {
		if _, err := pool.Exec(ctx, fmt.Sprintf("alter publication %s set (publish = '%s')", ident, publish)); err != nil {
			return fmt.Errorf("setting what publication %s publishes: %w", name, err)
		}
	}
	return nil
}

// EnsureSlot makes sure the logical slot (pgoutput) exists and is usable, and
// returns its confirmed position, where streaming resumes. Slot names are
// cluster-wide: a slot of that name on another database is refused, never consumed.
//
// A slot this database has had before (sidecar.replication_slots remembers) that is
// missing now, or one the server invalidated (max_slot_wal_keep_size), is lost: it
// is created anew at the current position and lost says why. Nothing is missed for
// the changes the sidecar acts on (their records wait in sidecar.changes until a
// catch-up claims them), but the caller must say so loudly.
func EnsureSlot(ctx context.Context, pool *pgxpool.Pool, slot string) (lsn uint64, lost string, err error) {
	read := func() (lsn *string, db, walStatus string, err error) {
		err = pool.QueryRow(ctx, `select confirmed_flush_lsn::text, coalesce(database, ''), coalesce(wal_status, '')
			from pg_replication_slots where slot_name = $1`, slot).Scan(&lsn, &db, &walStatus)
		return
	}
	at, db, walStatus, err := read()
	if err == nil && walStatus == "lost" {
		if _, err := pool.Exec(ctx, `select pg_drop_replication_slot($1)`, slot); err != nil {
			return 0, "", fmt.Errorf("dropping invalidated replication slot %s: %w", slot, err)
		}
		lost = "the server invalidated it (wal_status lost: it fell behind max_slot_wal_keep_size)"
		err = pgx.ErrNoRows
	}
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42710") {
			return 0, "", fmt.Errorf("creating replication slot %s: %w", slot, err)
		}
		var before bool
		err = pool.QueryRow(ctx, `insert into sidecar.replication_slots as r (slot_name) values ($1)
			on conflict (slot_name) do update set recreated_at = now(), times_lost = r.times_lost + 1
			returning r.times_lost > 0`, slot).Scan(&before)
		if err != nil {
			return 0, "", fmt.Errorf("remembering replication slot %s: %w", slot, err)
		}
		if before && lost == "" {
			lost = "it was missing, though this database had it before (dropped, or not carried over by a failover)"
		}
		at, db, _, err = read()
	} else if err == nil {
		_, err = pool.Exec(ctx, `insert into sidecar.replication_slots (slot_name) values ($1) on conflict do nothing`, slot)
		if err != nil {
			return 0, "", fmt.Errorf("remembering replication slot %s: %w", slot, err)
		}
	}
	if err != nil {
		return 0, "", fmt.Errorf("reading replication slot %s: %w", slot, err)
	}
	var here string
	if err := pool.QueryRow(ctx, `select current_database()`).Scan(&here); err != nil {
		return 0, "", fmt.Errorf("reading database name: %w", err)
	}
	if db != here || at == nil {
		return 0, "", fmt.Errorf("replication slot %s belongs to database %q, not %q, or is not logical: choose another REPLICATION_SLOT", slot, db, here)
	}
	lsn, err = parseLSN(*at)
	return lsn, lost, err
}

func parseLSN(s string) (uint64, error) {
	l, err := pglogrepl.ParseLSN(s)
	return uint64(l), err
}
