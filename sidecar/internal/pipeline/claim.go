package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
)

// claimSQL claims the pending change records of some keys, up to the highest id a
// notice named, in the batch's transaction: they are marked processed when, and
// only if, the effects written beside them commit.
//
// Each key is first locked for the transaction (pg_advisory_xact_lock on
// hashtext(key), in lock order, so two claimers cannot deadlock). A sidecar that
// claims a key another is applying waits for its commit; its update then finds
// those records processed (Postgres re-checks an updated row's WHERE after waiting)
// and takes only the later ones: a key's records take effect one at a time, in
// order. The email queue's flood control locks the same key (a talent), so within
// a batch that lock costs nothing more. An advisory lock writes no WAL, where
// SELECT … FOR UPDATE would write a lock record for every claimed row.
//
// The locks are a statement of their own, sent with the update in one round trip,
// so that every lock is held before the update reads a row.
const claimLockSQL = `
select count(pg_advisory_xact_lock(h))
  from (select distinct hashtext(k) as h from unnest($1::text[]) k order by 1) l`

var claimSQL = `
update sidecar.changes s set processed_at = now()
 where s.processed_at is null and s.row_key = any($1::text[]) and s.id <= $2
returning s.id, s.row_key, s.table_name, s.op, coalesce(s.actor_id::text, ''), s.actor_role,
          coalesce(s.reason, ''), s.created_at,
          case when s.table_name = 'talent_profiles' then null else s.old_row end,
          case when s.table_name = 'talent_profiles' then null else s.new_row end,
          case when s.table_name = 'talent_profiles' and s.old_row is not null then
            array[` + snapshotFields("s.old_row") + `] end,
          case when s.table_name = 'talent_profiles' and s.new_row is not null then
            array[` + snapshotFields("s.new_row") + `] end`

// talentSnapshot is the keys of a talent's change record snapshot (written by the
// state machine for an update, migration 20261203200000, and by
// private.record_talent_change for a delete; a test keeps them equal). A claim returns them as text arrays rather than jsonb: decoding 40,000
// JSON objects was a third of the sidecar's CPU in a backlog drain.
var talentSnapshot = []string{"id", "user_id", "status", "name", "email", "rejection_reason", "admin_notes",
	"submitted_at", "approved_at", "activated_at"}

func snapshotFields(col string) string {
	fields := make([]string, len(talentSnapshot))
	for i, k := range talentSnapshot {
		fields[i] = col + "->>'" + k + "'"
	}
	return strings.Join(fields, ", ")
}

// snapshotRow builds a talent row from a claim's text array (see talentSnapshot),
// normalised as rowjson normalises a JSON row.
func snapshotRow(vals []*string) (change.Row, error) {
	if len(vals) != len(talentSnapshot) {
		return nil, fmt.Errorf("snapshot has %d fields, want %d", len(vals), len(talentSnapshot))
	}
	r := make(map[string]any, len(vals))
	for i, k := range talentSnapshot {
		if vals[i] == nil {
			r[k] = nil
		} else {
			r[k] = *vals[i]
		}
	}
	return rowjson.Row(r), nil
}

// claim returns the batch's events: the change records its notices claim, in id
// order, then its streamed rows in the order they came.
func (w *worker) claim(ctx context.Context, tx pgx.Tx, batch []item) ([]*change.Event, error) {
	var keys []string
	source := map[string]change.Source{}
	var maxID int64
	var rows []*change.Event
	noticed := map[int64]bool{}
	for _, it := range batch {
		switch ev := it.ev; {
		case ev == nil:
		case ev.Notice:
			if _, ok := source[ev.RowKey]; !ok {
				keys = append(keys, ev.RowKey)
				source[ev.RowKey] = ev.Source
			}
			maxID = max(maxID, ev.ID)
			noticed[ev.ID] = true
		default:
			rows = append(rows, ev)
		}
	}
	if len(keys) == 0 {
		return rows, nil
	}
	// The locks and the first claim in one round trip.
	b := &pgx.Batch{}
	b.Queue(claimLockSQL, keys)
	b.Queue(claimSQL, keys, maxID)
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, fmt.Errorf("locking the keys of %d change records: %w", len(keys), err)
	}
	claimed, err := readClaimed(br.Query, source)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("claiming change records: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	// A notice from the stream can arrive before its transaction is visible: Postgres
	// writes (and logical decoding sends) the commit before the committing backend
	// leaves the list of running transactions. A noticed record neither claimed now
	// nor processed already is that case; claim again, a moment later, in a new
	// snapshot. (Left alone, it would wait for the next catch-up, seconds later.)
	for _, ev := range claimed {
		delete(noticed, ev.ID)
	}
	for i, wait := range claimRetryWaits {
		if len(noticed) == 0 {
			break
		}
		missing := make([]int64, 0, len(noticed))
		for id := range noticed {
			missing = append(missing, id)
		}
		done, err := processedOf(ctx, tx, missing)
		if err != nil {
			return nil, err
		}
		for _, id := range done {
			delete(noticed, id)
		}
		if len(noticed) == 0 {
			break
		}
		if i == 0 {
			w.p.claimRetries.Inc()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		more, err := readClaimed(func() (pgx.Rows, error) { return tx.Query(ctx, claimSQL, keys, maxID) }, source)
		if err != nil {
			return nil, err
		}
		for _, ev := range more {
			delete(noticed, ev.ID)
		}
		claimed = append(claimed, more...)
	}
	sort.Slice(claimed, func(i, j int) bool { return claimed[i].ID < claimed[j].ID })
	return append(claimed, rows...), nil
}

// claimRetryWaits are the pauses before a claim is tried again for noticed records
// not yet visible (about 85 ms in all before they are left to the catch-up). The
// committing backend leaves the running transactions microseconds after its commit
// is flushed, unless it is descheduled, so the first tries come soon: with
// BATCH_WAIT at 0 a notice is often claimed within that window.
var claimRetryWaits = []time.Duration{200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond,
	2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, 16 * time.Millisecond, 50 * time.Millisecond}

// processedOf returns which of ids are processed already (claimed by another batch
// or sidecar).
func processedOf(ctx context.Context, tx pgx.Tx, ids []int64) ([]int64, error) {
	q, err := tx.Query(ctx, `select id from sidecar.changes where id = any($1) and processed_at is not null`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading processed change records: %w", err)
	}
	done, err := pgx.CollectRows(q, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reading processed change records: %w", err)
	}
	return done, nil
}

// readClaimed runs a claim (claimSQL) through query and builds the events of the
// records it claimed.
func readClaimed(query func() (pgx.Rows, error), source map[string]change.Source) ([]*change.Event, error) {
	q, err := query()
	if err != nil {
		return nil, fmt.Errorf("claiming change records: %w", err)
	}
	var claimed []*change.Event
	var id int64
	var key, table, op, actor, role, reason string
	var oldRow, newRow []byte
	var oldSnap, newSnap []*string
	var at time.Time
	_, err = pgx.ForEachRow(q, []any{&id, &key, &table, &op, &actor, &role, &reason, &at, &oldRow, &newRow, &oldSnap, &newSnap}, func() error {
		ev := &change.Event{Source: source[key], Schema: "public", Table: table, Op: change.Op(op),
			ID: id, RowKey: key, ActorID: actor, ActorRole: role, Reason: reason, At: at, Key: change.RecordKey(id)}
		var err error
		if oldSnap != nil {
			if ev.Old, err = snapshotRow(oldSnap); err != nil {
				return fmt.Errorf("change record %d: old_row: %w", id, err)
			}
		}
		if newSnap != nil {
			if ev.New, err = snapshotRow(newSnap); err != nil {
				return fmt.Errorf("change record %d: new_row: %w", id, err)
			}
		}
		if oldRow != nil {
			if ev.Old, err = rowjson.Decode(oldRow); err != nil {
				return fmt.Errorf("change record %d: old_row: %w", id, err)
			}
		}
		if newRow != nil {
			if ev.New, err = rowjson.Decode(newRow); err != nil {
				return fmt.Errorf("change record %d: new_row: %w", id, err)
			}
		}
		claimed = append(claimed, ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claiming change records: %w", err)
	}
	return claimed, nil
}
