// Package change defines what the sidecar acts on and the catalogue of the tables it
// watches.
//
// The database is the record: triggers write every change the sidecar must act on
// into sidecar.changes, in the changing transaction (migration 20261202000100). Both
// inputs, logical replication and Supabase database webhooks, only bring notice of
// new records sooner; the pipeline claims the records themselves from the database
// and hands them to the handlers as Events. A webhook payload is never read as data.
//
// Logical replication also streams the rows of the guarded tables, which the media
// guard checks (a write that bypassed the database's own guard shows only there).
package change

import (
	"fmt"
	"time"
)

// Source names the input that brought notice of an event.
type Source string

const (
	SourceReplication Source = "replication"
	SourceWebhook     Source = "webhook"
	SourceCatchUp     Source = "catchup"
)

// Op is the kind of row change.
type Op string

const (
	Insert Op = "INSERT"
	Update Op = "UPDATE"
	Delete Op = "DELETE"
)

// Row is a decoded row: column name to a JSON-compatible value (string, float64 or
// int64, bool, nil, []any, map[string]any). Both the record's jsonb and a streamed
// tuple normalise to this shape (package rowjson).
type Row map[string]any

// Event is one thing for the pipeline: a notice of a change record (Notice), a
// claimed change record (ID set, Notice false), or a streamed row of a guarded table
// (ID zero).
type Event struct {
	Source Source
	Schema string
	Table  string
	Op     Op
	New    Row // nil for DELETE
	Old    Row // nil for INSERT

	// ID is the change record's id (sidecar.changes.id); RowKey its ordering key
	// ("talent:<id>", "email_config"). A notice carries only these two.
	ID     int64
	RowKey string
	Notice bool

	// Who made a recorded change and why, as the changing transaction said
	// (actor_role: talent, admin, super_admin, authenticated, anon or service).
	ActorID, ActorRole, Reason string

	// CommitLSN is the end LSN of the transaction on the replication input (zero
	// otherwise). At is when the change happened: the record's transaction time, or
	// the commit time of a streamed row.
	CommitLSN uint64
	At        time.Time

	// Key identifies the change independently of the input that carried it.
	// Effects use it (suffixed) as their idempotency key.
	Key string
}

// Recorded reports whether ev is a claimed change record.
func (ev *Event) Recorded() bool { return ev.ID > 0 && !ev.Notice }

// RecordKey is the idempotency key of the change record id.
func RecordKey(id int64) string { return fmt.Sprintf("change:%d", id) }

// StreamKey is the idempotency key of a streamed row: its table, its id and the
// commit position of its transaction, which a redelivery repeats.
func StreamKey(table, id string, commitLSN uint64) string {
	return fmt.Sprintf("%s:%s:lsn:%X/%X", table, id, commitLSN>>32, uint32(commitLSN))
}

// Str returns the column as a string ("" when absent or null).
func (r Row) Str(col string) string {
	switch v := r[col].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// Int returns an integer column, and whether it held one. Rows normalise integers
// to int64 (package rowjson); int is accepted for rows built in Go.
func (r Row) Int(col string) (int64, bool) {
	switch v := r[col].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}
