// Package storagecleanup removes a deleted talent's media from Supabase Storage.
//
// Two halves, as with email (queue and outbox):
//
//   - Handler, a pipeline handler, queues one job per talent delete record into
//     sidecar.storage_deletions in the transaction that claims the record
//     (migration 20261202300000). The job and the record's being processed commit
//     together, so each delete queues its cleanup once, whichever input announced it
//     and however many sidecars run.
//   - Cleaner, a long-running worker on every instance, claims due jobs (FOR UPDATE
//     SKIP LOCKED), removes every object under '<user_id>/' in the three media
//     buckets through the Storage API (storage-go) and records done with the count,
//     or, after its attempts, failed with the last error, for an operator to see and
//     re-queue.
//
// The Storage calls happen after the commit, outside any transaction: a crash between
// removing objects and recording it leaves the job queued, and the next attempt lists
// the folders again and finds less (or nothing) to remove, so a repeat does no harm.
package storagecleanup

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/ideminsert"
)

// keySuffix is appended to the change record's key to form the job's idempotency key.
const keySuffix = "/storage"

// Buckets are the media buckets whose '<user_id>/' folders a talent's deletion
// empties (migrations/20261121000900_storage.sql).
var Buckets = []string{"headshots", "video-samples", "interview-audio"}

// Handler queues a cleanup job for each talent delete record. Like every pipeline
// handler it serves one worker: Handle…, then Flush and Committed, or Discard.
type Handler struct {
	pending jobs
	insert  *ideminsert.Insert
	wake    func()
	queued  bool // the transaction being built queued a job: Committed wakes the cleaner
}

// jobs holds buffered jobs column by column, the shape of the unnest insert.
type jobs struct {
	talentID, userID, key []string
	changeID              []int64
	at                    []time.Time
}

// NewHandler returns the handler. wake (may be nil) is called after a transaction
// that queued a job commits: the Cleaner's Wake, in the same process. Other
// instances find the job at their next poll.
func NewHandler(wake func()) *Handler {
	return &Handler{wake: wake, insert: ideminsert.New(insertSQL, "on conflict (idempotency_key) do nothing", "")}
}

// Watches names the change records of talent_profiles.
func (h *Handler) Watches() change.Watch {
	return change.Watch{Records: []string{"talent_profiles"}}
}

// Handle buffers a job for a talent's delete, whoever deleted it: a super admin
// through the API, ops in SQL, or the cascade of deleting the auth user. In every
// case the media have no profile left to belong to.
func (h *Handler) Handle(_ context.Context, _ pgx.Tx, ev *change.Event) error {
	if ev.Op != change.Delete {
		return nil
	}
	if ev.Old == nil {
		return fmt.Errorf("queueing storage cleanup for %s: a delete must carry the old row", ev.Key)
	}
	id, user := ev.Old.Str("id"), ev.Old.Str("user_id")
	if id == "" || user == "" {
		// user_id is not null in talent_profiles; a record without it is not one the
		// database wrote. Dead-letter it rather than guess whose folders to empty.
		return fmt.Errorf("queueing storage cleanup for %s: the deleted row has no id or user_id", ev.Key)
	}
	p := &h.pending
	p.talentID = append(p.talentID, id)
	p.userID = append(p.userID, user)
	p.key = append(p.key, ev.Key+keySuffix)
	p.changeID = append(p.changeID, ev.ID)
	at := ev.At
	if at.IsZero() {
		// Claimed records always carry their time; this only keeps a hand-built event
		// from protecting every object as "created after the delete".
		at = time.Now()
	}
	p.at = append(p.at, at)
	return nil
}

// insertSQL writes a batch of jobs in one statement; a job whose key is already
// there (the record handled again) is skipped: see ideminsert.
const insertSQL = `
insert into sidecar.storage_deletions (talent_profile_id, user_id, idempotency_key, change_id, deleted_at)
select r.talent_id::uuid, r.user_id::uuid, r.key, r.change_id, r.at
  from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[])
         as r(talent_id, user_id, key, change_id, at)`

// Flush writes the buffered jobs.
func (h *Handler) Flush(ctx context.Context, tx pgx.Tx) error {
	p := &h.pending
	n := len(p.key)
	if n == 0 {
		return nil
	}
	defer func() { h.pending = jobs{} }()
	if _, err := h.insert.Run(ctx, tx, p.talentID, p.userID, p.key, p.changeID, p.at); err != nil {
		return fmt.Errorf("queueing %d storage cleanups: %w", n, err)
	}
	h.queued = true
	return nil
}

// Discard forgets buffered jobs (their transaction was rolled back).
func (h *Handler) Discard() {
	h.pending = jobs{}
	h.queued = false
}

// Committed wakes the cleaner when the committed transaction queued a job.
func (h *Handler) Committed(context.Context) {
	if h.queued && h.wake != nil {
		h.wake()
	}
	h.queued = false
}
