// Package ideminsert writes a batch of rows keyed by a unique idempotency key, once.
//
// The obvious statement, INSERT … ON CONFLICT (key) DO NOTHING, pays for the
// conflict on every row, conflict or not: a pre-check probe of the unique index, a
// speculative insertion and a second WAL record to confirm it (which every logical
// decoder of the database then reads too). About a third of the cost of the sidecar's
// batch inserts went there, though a key is already present only when a change is
// delivered again: after a crash, or through both inputs.
//
// So a batch is first inserted plainly inside a savepoint, all in one round trip.
// If a key was already there, the statement fails with a unique violation, the
// savepoint is rolled back and the batch is inserted again with the ON CONFLICT
// form; the next few batches use that form directly, since redeliveries come in runs
// (a replayed range, or a webhook sent for every change the stream also carries).
//
// An Insert may also have a COPY form (WithCopy), used in place of the plain insert:
// the same rows sent with COPY … FROM STDIN (BINARY). When the table has no
// volatile default among the columns left out and no row trigger, Postgres writes
// them with its multi-row heap insert: one WAL record per page of rows instead of
// one per row, and no executor work per row beyond the index insertions.
package ideminsert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// onConflictRuns is how many batches after one that met a present key use the
// ON CONFLICT form before a plain insert is tried again.
const onConflictRuns = 8

// Insert is one batch insert statement in its two forms. It is not safe for
// concurrent use: each pipeline worker has its own.
type Insert struct {
	plain, onConflict string
	onConflictFor     int    // batches left to insert with the ON CONFLICT form
	copySQL           string // COPY … FROM STDIN (FORMAT binary), or "" for none
	copyWidth         int
}

// WithCopy gives q a COPY form into table's columns, used by RunCopy in place of the
// plain insert. It returns q.
func (q *Insert) WithCopy(table pgx.Identifier, columns ...string) *Insert {
	q.copySQL = fmt.Sprintf("copy %s (%s) from stdin (format binary)", table.Sanitize(), identList(columns))
	q.copyWidth = len(columns)
	return q
}

func identList(cols []string) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(quoted, ", ")
}

// Batch is a batch for RunCopy: the rows as a binary COPY (Rows, columns in
// WithCopy's order) and, built only when the ON CONFLICT form runs, as the SQL
// forms' parameters (Args); and what the RETURNING clause would return for each row,
// in order (Keys: a COPY inserts every row).
type Batch struct {
	Args func() []any
	Rows *Rows
	Keys []string
}

// RunCopy is Run for an Insert with a COPY form: the batch is copied inside a
// savepoint, and on a unique violation inserted again with the ON CONFLICT form,
// which the next onConflictRuns batches use directly.
func (q *Insert) RunCopy(ctx context.Context, tx pgx.Tx, b Batch) ([]string, error) {
	if q.copySQL == "" {
		return nil, errors.New("ideminsert: RunCopy on an insert without a COPY form")
	}
	if b.Rows.width != q.copyWidth {
		return nil, fmt.Errorf("ideminsert: rows of %d columns for a COPY of %d", b.Rows.width, q.copyWidth)
	}
	if err := b.Rows.finish(); err != nil {
		return nil, err
	}
	if q.onConflictFor > 0 {
		q.onConflictFor--
		return query(ctx, tx, q.onConflict, b.Args())
	}
	if _, err := tx.Exec(ctx, "savepoint ideminsert"); err != nil {
		return nil, err
	}
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b.Rows.data()), q.copySQL)
	if err == nil {
		if _, err := tx.Exec(ctx, "release savepoint ideminsert"); err != nil {
			return nil, err
		}
		return b.Keys, nil
	}
	return q.afterPlain(ctx, tx, err, b.Args())
}

// Rows builds the rows of a binary COPY (the format of COPY … FROM STDIN (FORMAT
// binary)) in one buffer, reused by Reset: each field is written as Postgres's
// binary input functions read it, without going through pgx's per-value encoding.
// Only the types the sidecar copies are here: text, jsonb, uuid (and int4).
type Rows struct {
	buf   []byte
	width int
	inRow int   // fields written in the current row (width before the first)
	err   error // the first malformed row, reported by RunCopy
}

// copyHeader is the binary COPY signature, flags and header extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// Reset empties r for rows of width columns.
func (r *Rows) Reset(width int) {
	r.buf = append(r.buf[:0], copyHeader...)
	r.width, r.inRow, r.err = width, width, nil
}

// Row starts a row; every row must have width fields.
func (r *Rows) Row() {
	r.finish()
	r.buf = binary.BigEndian.AppendUint16(r.buf, uint16(r.width))
	r.inRow = 0
}

// finish checks the last row started and returns the first malformed row's error.
func (r *Rows) finish() error {
	if r.inRow != r.width && r.err == nil {
		r.err = fmt.Errorf("ideminsert: a COPY row of %d fields, want %d", r.inRow, r.width)
	}
	return r.err
}

func (r *Rows) field(n int) {
	r.buf = binary.BigEndian.AppendUint32(r.buf, uint32(n))
	r.inRow++
}

// Text writes a text value.
func (r *Rows) Text(s string) {
	r.field(len(s))
	r.buf = append(r.buf, s...)
}

// TextOrNull writes *s, or NULL when s is nil.
func (r *Rows) TextOrNull(s *string) {
	if s == nil {
		r.Null()
		return
	}
	r.Text(*s)
}

// NullIfEmpty is an optional text value as both forms of a batch take it: nil
// (NULL) for "", else s. The handlers keep "" for "none" in their rows.
func NullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// JSONB writes a jsonb value from its JSON text (jsonb's binary form is a version
// byte, 1, and the text; Postgres parses and checks it).
func (r *Rows) JSONB(s []byte) {
	r.field(1 + len(s))
	r.buf = append(r.buf, 1)
	r.buf = append(r.buf, s...)
}

// UUID writes a uuid value.
func (r *Rows) UUID(u [16]byte) {
	r.field(16)
	r.buf = append(r.buf, u[:]...)
}

// Int4 writes an integer value.
func (r *Rows) Int4(n int32) {
	r.field(4)
	r.buf = binary.BigEndian.AppendUint32(r.buf, uint32(n))
}

// Null writes NULL.
func (r *Rows) Null() {
	r.buf = binary.BigEndian.AppendUint32(r.buf, 0xffffffff)
	r.inRow++
}

// data is the whole COPY stream: the header, the rows and the trailer.
func (r *Rows) data() []byte {
	n := len(r.buf)
	out := binary.BigEndian.AppendUint16(r.buf, 0xffff)
	r.buf = r.buf[:n] // the trailer is not part of the rows
	return out
}

// New builds the two forms from the statement's parts: insert (INSERT … SELECT …),
// conflict (the ON CONFLICT … DO NOTHING clause) and returning (a RETURNING clause
// naming one text column, or "").
func New(insert, conflict, returning string) *Insert {
	return &Insert{
		plain:      insert + "\n" + returning,
		onConflict: insert + "\n" + conflict + "\n" + returning,
	}
}

// Plain and OnConflict are the statement's two forms (for plan tests).
func (q *Insert) Plain() string      { return q.plain }
func (q *Insert) OnConflict() string { return q.onConflict }

// UsesOnConflict tells whether the next batch will use the ON CONFLICT form.
func (q *Insert) UsesOnConflict() bool { return q.onConflictFor > 0 }

// Run inserts a batch in tx and returns the first column of the RETURNING clause for
// each row it inserted (nil without one): a row whose key was already present is
// not inserted and not returned. Any error other than a unique violation of the
// plain form is returned as is, and tx is then aborted, as after any failed
// statement.
func (q *Insert) Run(ctx context.Context, tx pgx.Tx, args ...any) ([]string, error) {
	if q.onConflictFor > 0 {
		q.onConflictFor--
		return query(ctx, tx, q.onConflict, args)
	}
	got, err := inSavepoint(ctx, tx, "savepoint ideminsert", q.plain, args)
	if err == nil {
		return got, nil
	}
	return q.afterPlain(ctx, tx, err, args)
}

// afterPlain handles the plain (or COPY) form's error: a unique violation rolls
// back to the savepoint and inserts with the ON CONFLICT form; any other error is
// returned.
func (q *Insert) afterPlain(ctx context.Context, tx pgx.Tx, err error, args []any) ([]string, error) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return nil, err
	}
	// A key was already there. Nothing of the plain insert remains after the
	// rollback (and it returned no rows: a failed statement's RETURNING rows are
	// never sent).
	//
	// The rollback goes alone, as a simple query: the failed batch made pgx forget
	// its prepared statements, and a batch prepares them first, which an aborted
	// transaction refuses.
	q.onConflictFor = onConflictRuns
	if _, err := tx.Exec(ctx, "rollback to savepoint ideminsert"); err != nil {
		return nil, fmt.Errorf("rolling back the plain insert after %v: %w", pgErr.Message, err)
	}
	return inSavepoint(ctx, tx, "", q.onConflict, args)
}

// inSavepoint sends, in one round trip, open (the savepoint's opening, or "" when
// it is open), the insert and the savepoint's release.
func inSavepoint(ctx context.Context, tx pgx.Tx, open, sql string, args []any) ([]string, error) {
	var got []string
	b := &pgx.Batch{}
	if open != "" {
		b.Queue(open)
	}
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		got, err = collect(rows)
		return err
	})
	b.Queue("release savepoint ideminsert")
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return got, nil
}

func query(ctx context.Context, tx pgx.Tx, sql string, args []any) ([]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows)
}

func collect(rows pgx.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
