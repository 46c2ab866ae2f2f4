package mediaguard

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
)

// Handler is the sidecar's defence in depth: it runs the rule on every insert and
// update of a guarded table that reaches the change stream. The trigger normally
// refuses such writes, so a violation here means it was bypassed; the handler records
// it in public.media_violations (once per event, column and path), counts it in
// media_violations_total and logs it. It never returns an error for a violation, so
// the stream keeps moving.
type Handler struct {
	log     *slog.Logger
	counter *prometheus.CounterVec

	mu     sync.Mutex
	g      *Guard    // for base; nil before the first read
	base   string    // storage_base_url as last read
	readAt time.Time // when base was read
}

// settingsTTL bounds how often private.media_settings is read. Reading it per event
// cost a round trip per row change and dominated backlog drains; the setting changes
// rarely (ops set it once per project), so a change is picked up within this time.
const settingsTTL = 5 * time.Second

// NewHandler registers media_violations_total{table,column,kind} with reg.
func NewHandler(log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "media_violations_total",
		Help: "Inline media values found in committed talent rows (the database guard was bypassed).",
	}, []string{"table", "column", "kind"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("registering media_violations_total: %w", err)
	}
	return &Handler{log: log.With("component", "mediaguard"), counter: c}, nil
}

// Handle checks the columns the event changed (all of them on insert), as the
// trigger does, so a legacy value is reported by the event that wrote it and by
// `sidecar media scan`, not by every later unrelated edit.
func (h *Handler) Handle(ctx context.Context, tx pgx.Tx, ev *change.Event) error {
	if !Covered(ev.Table) || ev.New == nil || ev.Op == change.Delete {
		return nil
	}
	cols := changedColumns(ev)
	if len(cols) == 0 {
		return nil
	}
	g, err := h.guard(ctx, tx)
	if err != nil {
		return err
	}
	var vs []Violation
	for _, c := range cols {
		vs = append(vs, g.Check(ev.Table, c, ev.New[c])...)
	}
	rowID := ev.New.Str("id")
	for _, v := range vs {
		tag, err := tx.Exec(ctx, `insert into public.media_violations
			(event_key, table_name, row_id, column_name, path, size, kind, guessed_type, reason, source)
			values ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7, nullif($8, ''), $9, $10)
			on conflict (event_key, column_name, path) do nothing`,
			ev.Key, v.Table, rowID, v.Column, v.Path, v.Size, v.Kind, v.GuessedType, v.Reason, string(ev.Source))
		if err != nil {
			return fmt.Errorf("recording media violation: %w", err)
		}
		if tag.RowsAffected() == 1 {
			h.counter.WithLabelValues(v.Table, v.Column, v.Kind).Inc()
			h.log.Warn("inline media bypassed the database guard",
				"table", v.Table, "row_id", rowID, "column", v.Column, "path", v.Path,
				"kind", v.Kind, "guessed_type", v.GuessedType, "size", v.Size, "event_key", ev.Key)
		}
	}
	return nil
}

// Touches reports whether a row change of table that writes the columns changed
// writes a guarded column. The replication input asks it before decoding a row and
// drops the others (a status change, say, has nothing to check).
func Touches(table string, changed []string) bool {
	for _, c := range guardedColumns[table] {
		if slices.Contains(changed, c.name) {
			return true
		}
	}
	return false
}

// changedColumns lists the guarded columns ev writes: all of them on insert, the
// ones an update changed (as the trigger checks them), so a legacy value is
// reported by the event that wrote it and by `sidecar media scan`, not by every
// later unrelated edit.
func changedColumns(ev *change.Event) []string {
	if ev.New == nil || ev.Op == change.Delete {
		return nil
	}
	var out []string
	for _, c := range guardedColumns[ev.Table] {
		v, ok := ev.New[c.name]
		if !ok {
			continue
		}
		if ev.Op == change.Update && ev.Old != nil {
			if old, had := ev.Old[c.name]; had && reflect.DeepEqual(old, v) {
				continue
			}
		}
		out = append(out, c.name)
	}
	return out
}

// Watches names the streamed rows of the guarded tables: only the replication
// input carries a row as the database wrote it.
func (h *Handler) Watches() change.Watch {
	var w change.Watch
	for _, t := range change.Catalogue {
		if t.Guarded {
			w.Rows = append(w.Rows, t.Name)
		}
	}
	return w
}

// Flush has nothing to write: violations are recorded as Handle finds them.
func (h *Handler) Flush(context.Context, pgx.Tx) error { return nil }

// Discard has nothing to forget.
func (h *Handler) Discard() {}

// Committed has nothing to do.
func (h *Handler) Committed(context.Context) {}

// guard returns the Guard for the Storage base URL configured in the database.
func (h *Handler) guard(ctx context.Context, tx pgx.Tx) (*Guard, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.g != nil && time.Since(h.readAt) < settingsTTL {
		return h.g, nil
	}
	base, err := StorageBaseURL(ctx, tx)
	if err != nil {
		return nil, err
	}
	if h.g == nil || h.base != base {
		h.g, h.base = New(base), base
	}
	h.readAt = time.Now()
	return h.g, nil
}
