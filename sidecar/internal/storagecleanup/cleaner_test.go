package storagecleanup

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/storagefake"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

const key = "service-role-key-for-tests"

func newFake(t *testing.T) *storagefake.Server {
	f := storagefake.New(key, Buckets...)
	t.Cleanup(f.Close)
	return f
}

// seed puts a user's media in every bucket, nested as the frontend may write them,
// and returns their names per bucket.
func seed(f *storagefake.Server, user string) map[string][]string {
	out := map[string][]string{}
	for _, b := range Buckets {
		for _, n := range []string{"a.bin", "nested/b.bin", "nested/deeper/c.bin"} {
			f.Put(b, user+"/"+n)
			out[b] = append(out[b], user+"/"+n)
		}
	}
	return out
}

// queue inserts a job as the handler would, for a talent deleted now.
func queue(t *testing.T, db *testdb.DB, user string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.Pool.QueryRow(context.Background(), `
		insert into sidecar.storage_deletions (talent_profile_id, user_id, idempotency_key, deleted_at)
		values (gen_random_uuid(), $1, 'test:' || gen_random_uuid(), now()) returning id`, user).Scan(&id))
	return id
}

type jobRow struct {
	Status    string
	Attempts  int
	Removed   int
	LastError *string
}

func readJob(t *testing.T, db *testdb.DB, id int64) jobRow {
	t.Helper()
	var r jobRow
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`select status, attempts, objects_deleted, last_error from sidecar.storage_deletions where id = $1`, id).
		Scan(&r.Status, &r.Attempts, &r.Removed, &r.LastError))
	return r
}

func waitStatus(t *testing.T, db *testdb.DB, id int64, want string) jobRow {
	t.Helper()
	err := sidecartest.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		return readJob(t, db, id).Status == want, nil
	})
	require.NoError(t, err, "job %d: %+v", id, readJob(t, db, id))
	return readJob(t, db, id)
}

func start(t *testing.T, db *testdb.DB, f *storagefake.Server, opts Options) *Cleaner {
	if f != nil {
		opts.SupabaseURL, opts.ServiceRoleKey = f.URL, key
	}
	if opts.Poll == 0 {
		opts.Poll = 50 * time.Millisecond
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 50 * time.Millisecond
	}
	c := New(db.Pool, opts, testlog.New(t), nil)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(c.Stop)
	return c
}

// The user's objects, at every depth and in all three buckets, are removed; other
// users' (including one whose id starts with the same characters) are untouched.
func TestRemovesTheUsersFoldersOnly(t *testing.T) {
	db := testdb.New(t)
	f := newFake(t)
	user, other := uuid.NewString(), uuid.NewString()
	seed(f, user)
	keep := seed(f, other)
	// A sibling whose name extends the user's id: a prefix match without the
	// folder's slash would take it.
	f.Put("headshots", user+"-x/not-theirs.bin")
	// More objects than one listing page returns.
	for i := range 230 {
		f.Put("video-samples", fmt.Sprintf("%s/many/%03d.bin", user, i))
	}
	id := queue(t, db, user)
	start(t, db, f, Options{})

	r := waitStatus(t, db, id, "done")
	require.Equal(t, 9+230, r.Removed)
	require.Equal(t, 1, r.Attempts)
	require.Nil(t, r.LastError)
	for _, b := range Buckets {
		want := keep[b]
		if b == "headshots" {
			want = append(want, user+"-x/not-theirs.bin")
		}
		require.ElementsMatch(t, want, f.Objects(b), b)
	}
	require.Len(t, f.Deleted(), 9+230, "each object deleted once")
	require.Empty(t, f.Refused(), "every request was one Storage accepts")
}

// Objects created after the talent was deleted belong to whatever the user did
// since (a new profile), and are kept.
func TestKeepsObjectsCreatedAfterTheDelete(t *testing.T) {
	db := testdb.New(t)
	f := newFake(t)
	user := uuid.NewString()
	f.PutAt("headshots", user+"/old.jpg", time.Now().Add(-time.Hour))
	f.PutAt("headshots", user+"/new.jpg", time.Now().Add(time.Hour))
	id := queue(t, db, user)
	start(t, db, f, Options{})
	require.Equal(t, 1, waitStatus(t, db, id, "done").Removed)
	require.Equal(t, []string{user + "/new.jpg"}, f.Objects("headshots"))
}

// A Storage outage (503 from the gateway, then a 500 of Storage's own) is retried
// with backoff until the objects are gone; the job ends done, its error cleared.
func TestRetriesUnavailableStorage(t *testing.T) {
	db := testdb.New(t)
	f := newFake(t)
	user := uuid.NewString()
	seed(f, user)
	f.FailNext(503, 500, 429)
	id := queue(t, db, user)
	start(t, db, f, Options{MaxAttempts: 8})

	r := waitStatus(t, db, id, "done")
	require.Equal(t, 9, r.Removed)
	require.Greater(t, r.Attempts, 1)
	require.Nil(t, r.LastError)
	require.Equal(t, 3, f.Count("failed"))
	for _, b := range Buckets {
		require.Empty(t, f.Objects(b), b)
	}
}

// A Storage that stays down: the job is tried MaxAttempts times, then recorded
// failed with the last error, not lost; an operator's re-queue (deploy/RUNBOOK.md)
// then finishes it once Storage is back.
func TestPermanentOutageIsRecordedAndCanBeRequeued(t *testing.T) {
	db := testdb.New(t)
	f := newFake(t)
	user := uuid.NewString()
	seed(f, user)
	f.FailAlways(503)
	id := queue(t, db, user)
	start(t, db, f, Options{MaxAttempts: 3})

	r := waitStatus(t, db, id, "failed")
	require.Equal(t, 3, r.Attempts)
	require.NotNil(t, r.LastError)
	require.Contains(t, *r.LastError, "gave up after 3 attempts")
	require.Contains(t, *r.LastError, "HTTP 503")
	require.Len(t, f.Objects("headshots"), 3, "nothing removed")

	// The runbook's re-queue.
	f.FailAlways(0)
	_, err := db.Pool.Exec(context.Background(), `update sidecar.storage_deletions
		set status = 'queued', attempts = 0, next_attempt_at = now(), finished_at = null, updated_at = now()
		where status = 'failed'`)
	require.NoError(t, err)
	r = waitStatus(t, db, id, "done")
	require.Equal(t, 9, r.Removed)
}

// A refused request (a wrong key: Storage answers 400, "403" in the body) will be
// refused again: the job fails at once, with Storage's message.
func TestRefusedRequestFailsAtOnce(t *testing.T) {
	db := testdb.New(t)
	f := newFake(t)
	user := uuid.NewString()
	seed(f, user)
	id := queue(t, db, user)
	c := New(db.Pool, Options{SupabaseURL: f.URL, ServiceRoleKey: "not-the-key", Poll: 50 * time.Millisecond}, testlog.New(t), nil)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(c.Stop)

	r := waitStatus(t, db, id, "failed")
	require.Equal(t, 1, r.Attempts)
	require.Contains(t, *r.LastError, "HTTP 400")
	require.Contains(t, *r.LastError, "signature verification failed")
	require.Equal(t, []string{"signature verification failed"}, f.Refused())
}

// Without Storage credentials the cleaner does not run and the job waits, queued.
func TestWithoutCredentialsJobsStayQueued(t *testing.T) {
	db := testdb.New(t)
	id := queue(t, db, uuid.NewString())
	c := start(t, db, nil, Options{})
	require.False(t, c.Configured())
	time.Sleep(300 * time.Millisecond)
	r := readJob(t, db, id)
	require.Equal(t, "queued", r.Status)
	require.Zero(t, r.Attempts)
	c.Stop()
}

// Two cleaners on one queue: each job is claimed by one of them at a time, and every
// object is deleted once.
func TestTwoCleanersShareTheQueue(t *testing.T) {
	db := testdb.New(t)
	f := newFake(t)
	var ids []int64
	for range 10 {
		u := uuid.NewString()
		seed(f, u)
		ids = append(ids, queue(t, db, u))
	}
	a := start(t, db, f, Options{})
	b := start(t, db, f, Options{})
	for _, id := range ids {
		require.Equal(t, 9, waitStatus(t, db, id, "done").Removed)
	}
	require.Equal(t, int64(10), a.Attempts()+b.Attempts())
	require.Len(t, f.Deleted(), 90)
}

// The handler queues one job per talent delete record, whatever the input, and a
// record handled twice queues nothing more.
func TestHandlerQueuesOncePerDelete(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	woke := 0
	h := NewHandler(func() { woke++ })
	user, talent := uuid.NewString(), uuid.NewString()
	del := &change.Event{Source: change.SourceWebhook, Schema: "public", Table: "talent_profiles", Op: change.Delete,
		Old: change.Row{"id": talent, "user_id": user, "status": "submitted"}, ID: 42, RowKey: "talent:" + talent,
		At: time.Now(), Key: change.RecordKey(42)}
	upd := &change.Event{Source: change.SourceWebhook, Schema: "public", Table: "talent_profiles", Op: change.Update,
		Old: change.Row{"id": talent, "user_id": user}, New: change.Row{"id": talent, "user_id": user}, ID: 41, Key: change.RecordKey(41)}
	for range 2 {
		require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			for _, ev := range []*change.Event{upd, del} {
				if err := h.Handle(ctx, tx, ev); err != nil {
					return err
				}
			}
			return h.Flush(ctx, tx)
		}))
		h.Committed(ctx)
	}
	require.Equal(t, 2, woke)
	var n int
	var key, gotUser, gotTalent string
	var changeID int64
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) over (), idempotency_key, user_id::text, talent_profile_id::text, change_id
		from sidecar.storage_deletions`).Scan(&n, &key, &gotUser, &gotTalent, &changeID))
	require.Equal(t, 1, n)
	require.Equal(t, "change:42/storage", key)
	require.Equal(t, user, gotUser)
	require.Equal(t, talent, gotTalent)
	require.Equal(t, int64(42), changeID)

	// A delete record without the old row's user is not guessed at.
	bad := *del
	bad.Old = change.Row{"id": talent}
	require.Error(t, h.Handle(ctx, nil, &bad))
	h.Discard()
}
