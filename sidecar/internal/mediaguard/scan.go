package mediaguard

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Querier is what Scan needs of a database handle (a pool, a connection or a tx).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Finding is one offending value found in a stored row.
type Finding struct {
	Violation
	RowID  string `json:"row_id"`
	UserID string `json:"user_id"`
}

// StorageBaseURL reads the base URL media URLs must start with from the database.
func StorageBaseURL(ctx context.Context, q Querier) (string, error) {
	var base string
	if err := q.QueryRow(ctx, `select storage_base_url from private.media_settings`).Scan(&base); err != nil {
		return "", fmt.Errorf("reading private.media_settings: %w", err)
	}
	return base, nil
}

// Scan applies the rule to every stored row of every guarded table, in table and id
// order, and calls fn for each offending value.
func Scan(ctx context.Context, q Querier, g *Guard, fn func(Finding) error) error {
	tables := make([]string, 0, len(guardedColumns))
	for t := range guardedColumns {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		rows, err := q.Query(ctx, fmt.Sprintf(`select id::text, user_id::text, to_jsonb(t) from public.%s t order by id`,
			pgx.Identifier{t}.Sanitize()))
		if err != nil {
			return fmt.Errorf("scanning %s: %w", t, err)
		}
		for rows.Next() {
			var id, uid string
			var raw []byte
			if err := rows.Scan(&id, &uid, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("scanning %s: %w", t, err)
			}
			row, err := decodeRow(raw)
			if err != nil {
				rows.Close()
				return fmt.Errorf("decoding %s row %s: %w", t, id, err)
			}
			for _, v := range g.CheckRow(t, row) {
				if err := fn(Finding{Violation: v, RowID: id, UserID: uid}); err != nil {
					rows.Close()
					return err
				}
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scanning %s: %w", t, err)
		}
	}
	return nil
}

func decodeRow(raw []byte) (map[string]any, error) {
	var row map[string]any
	if err := json.Unmarshal(raw, &row); err != nil {
		return nil, err
	}
	return row, nil
}
