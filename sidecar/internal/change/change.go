// Package change defines the row-change event that both sidecar inputs (logical
// replication and Supabase database webhooks) produce, and the contract of the
// handlers that turn an event into effects inside the pipeline's transaction.
package change

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Source names the input an event came from.
type Source string

const (
	SourceReplication Source = "replication"
	SourceWebhook     Source = "webhook"
)

// Op is the kind of row change.
type Op string

const (
	Insert Op = "INSERT"
	Update Op = "UPDATE"
	Delete Op = "DELETE"
)

// Row is a decoded row: column name to a JSON-compatible value (string, float64 or
// int64, bool, nil, []any, map[string]any). Both inputs normalise to this shape so a
// handler cannot tell them apart.
type Row map[string]any

// Event is one committed row change.
type Event struct {
	Source Source
	Schema string
	Table  string
	Op     Op
	New    Row // nil for DELETE
	Old    Row // nil for INSERT; the full old row (REPLICA IDENTITY FULL)

	// CommitLSN is the end LSN of the transaction on the replication input and zero
	// for webhooks. CommitTime is the transaction's commit time when known (zero for
	// webhooks, which do not carry it).
	CommitLSN  uint64
	CommitTime time.Time

	// Key identifies the row change itself, independent of the input that carried
	// it. Effects use it (suffixed) as their idempotency key.
	Key string
}

// Handler turns events into effects written in tx. Handle must be deterministic in
// the event: the same event handled twice must produce the same idempotent writes
// (insert ... on conflict do nothing on a key derived from ev.Key). An error makes the
// pipeline roll back this event's writes (to a savepoint) and dead-letter it.
type Handler interface {
	Handle(ctx context.Context, tx pgx.Tx, ev *Event) error
}

// Committer is optionally implemented by a Handler that must act after the
// transaction holding its writes has committed (for example swapping in a newly
// validated configuration).
type Committer interface {
	Committed(ctx context.Context)
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

// Int returns an integer column, and whether it held one. Both inputs normalise
// integers to int64 (package rowjson); int is accepted for rows built in Go.
func (r Row) Int(col string) (int64, bool) {
	switch v := r[col].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

// KeyFor derives the idempotency key of a row change. talent_profiles carries a
// version bumped by trigger on every update, so (id, version) names a change; a
// delete happens once per id. Other tables use their primary key and updated_at.
func KeyFor(table string, op Op, newRow, oldRow Row) (string, error) {
	row := newRow
	if op == Delete {
		row = oldRow
	}
	if row == nil {
		return "", fmt.Errorf("deriving key: %s on %s has no row", op, table)
	}
	switch table {
	case "talent_profiles":
		id := row.Str("id")
		if id == "" {
			return "", fmt.Errorf("deriving key: talent_profiles row has no id")
		}
		if op == Delete {
			return "talent_profiles:" + id + ":delete", nil
		}
		v, ok := row.Int("version")
		if !ok {
			return "", fmt.Errorf("deriving key: talent_profiles row %s has no version", id)
		}
		return fmt.Sprintf("talent_profiles:%s:v%d", id, v), nil
	default:
		pk := row.Str("id")
		if pk == "" {
			pk = row.Str("name")
		}
		if pk == "" {
			return "", fmt.Errorf("deriving key: %s row has no id or name", table)
		}
		return fmt.Sprintf("%s:%s:%s:%s", table, pk, op, row.Str("updated_at")), nil
	}
}
