package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/storagecleanup"
	"github.com/talent-onboarding/backend/sidecar/internal/storagefake"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// The acceptance of "deleting a talent removes their media", with the real binary
// and the loopback Storage fake.

const storageKey = "service-role-key-for-tests"

// mediaNames are the objects each seeded talent has in every bucket, nested as the
// frontend may write them.
var mediaNames = []string{"1.bin", "takes/2.bin", "takes/raw/3.bin"}

// seedMedia puts media for each talent's user into every bucket and returns the
// users by talent id.
func seedMedia(t *testing.T, pool *pgxpool.Pool, f *storagefake.Server, ids []string) map[string]string {
	t.Helper()
	users := map[string]string{}
	for _, id := range ids {
		var user string
		require.NoError(t, pool.QueryRow(context.Background(), `select user_id::text from public.talent_profiles where id = $1`, id).Scan(&user))
		users[id] = user
		for _, b := range storagecleanup.Buckets {
			for _, n := range mediaNames {
				f.Put(b, user+"/"+n)
			}
		}
	}
	return users
}

// superAdminDeletes deletes talents as the super admin, one PostgREST request each.
func superAdminDeletes(t *testing.T, pool *pgxpool.Pool, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		require.NoError(t, testdb.AsRole(ctx, pool, "authenticated", superAdminID, "root@example.com", func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `delete from public.talent_profiles where id = $1`, id)
			return err
		}))
	}
}

// objectsOf returns the user's objects left in every bucket.
func objectsOf(f *storagefake.Server, user string) []string {
	var out []string
	for _, b := range storagecleanup.Buckets {
		for _, n := range f.Objects(b) {
			if len(n) > len(user) && n[:len(user)+1] == user+"/" {
				out = append(out, b+"/"+n)
			}
		}
	}
	return out
}

type cleanup struct {
	Status, Key string
	Attempts    int
	Removed     int
	LastError   *string
}

func cleanupOf(t *testing.T, pool *pgxpool.Pool, talent string) (cleanup, int) {
	t.Helper()
	var c cleanup
	var n int
	err := pool.QueryRow(context.Background(), `select status, idempotency_key, attempts, objects_deleted, last_error, count(*) over ()
		from sidecar.storage_deletions where talent_profile_id = $1`, talent).Scan(&c.Status, &c.Key, &c.Attempts, &c.Removed, &c.LastError, &n)
	if err == pgx.ErrNoRows {
		return c, 0
	}
	require.NoError(t, err)
	return c, n
}

func waitCleanup(t *testing.T, pool *pgxpool.Pool, talent, status string) cleanup {
	t.Helper()
	err := sidecartest.WaitFor(context.Background(), 60*time.Second, func() (bool, error) {
		c, _ := cleanupOf(t, pool, talent)
		return c.Status == status, nil
	})
	c, n := cleanupOf(t, pool, talent)
	require.NoError(t, err, "talent %s: cleanup %+v", talent, c)
	require.Equal(t, 1, n, "one cleanup per deleted talent")
	return c
}

// A super admin deletes talents while two sidecars run (one streams, one stands by;
// both clean): every object under the deleted talents' folders, in the three
// buckets and at every depth, is deleted through the Storage API once; the other
// talents' media are untouched; each delete has one cleanup, recorded done with its
// count, and its audit row.
func TestDeletingATalentRemovesTheirMedia(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 8)
	f := storagefake.New(storageKey, storagecleanup.Buckets...)
	t.Cleanup(f.Close)
	users := seedMedia(t, db.Pool, f, ids)

	bin := sidecartest.Binary(t)
	env := sidecartest.Env(t, db.URL, map[string]string{"SUPABASE_URL": f.URL, "SUPABASE_SERVICE_ROLE_KEY": storageKey})
	a := sidecartest.Start(t, bin, env)
	require.NoError(t, a.WaitState("streaming", 20*time.Second))
	b := sidecartest.Start(t, bin, env)
	require.NoError(t, b.WaitState("standby", 20*time.Second))

	deleted, kept := ids[:4], ids[4:]
	superAdminDeletes(t, db.Pool, deleted...)
	effectsExactlyOnce(t, db, len(deleted))

	perTalent := len(mediaNames) * len(storagecleanup.Buckets)
	for _, id := range deleted {
		c := waitCleanup(t, db.Pool, id, "done")
		require.Equal(t, perTalent, c.Removed)
		require.Nil(t, c.LastError)
		require.Regexp(t, `^change:\d+/storage$`, c.Key)
		require.Empty(t, objectsOf(f, users[id]), "talent %s's media are gone", id)
	}
	for _, id := range kept {
		require.Len(t, objectsOf(f, users[id]), perTalent, "talent %s's media are untouched", id)
		_, n := cleanupOf(t, db.Pool, id)
		require.Zero(t, n)
	}
	// Once: each object was deleted by one request of one sidecar.
	d := f.Deleted()
	seen := map[string]bool{}
	for _, o := range d {
		require.False(t, seen[o], "%s deleted twice", o)
		seen[o] = true
	}
	require.Len(t, d, len(deleted)*perTalent)
	require.Empty(t, f.Refused(), "every request was one Storage accepts")

	// A restart changes nothing: the records are processed and the jobs done.
	a.Stop()
	b.Stop()
	a = sidecartest.Start(t, bin, env)
	require.NoError(t, a.WaitState("streaming", 20*time.Second))
	time.Sleep(2 * time.Second)
	require.Len(t, f.Deleted(), len(deleted)*perTalent)
	var jobs int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from sidecar.storage_deletions`).Scan(&jobs))
	require.Equal(t, len(deleted), jobs)
}

// Storage fails: a short outage is retried and the media removed; an outage that
// outlasts STORAGE_CLEANUP_MAX_ATTEMPTS is recorded as failed with the last error,
// the media left in place, and the runbook's re-queue finishes it once Storage is
// back.
func TestStorageFailureIsRetriedThenRecorded(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 3)
	f := storagefake.New(storageKey, storagecleanup.Buckets...)
	t.Cleanup(f.Close)
	users := seedMedia(t, db.Pool, f, ids)

	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, map[string]string{
		"SUPABASE_URL": f.URL, "SUPABASE_SERVICE_ROLE_KEY": storageKey, "STORAGE_CLEANUP_MAX_ATTEMPTS": "3"}))
	require.NoError(t, p.WaitState("streaming", 20*time.Second))
	perTalent := len(mediaNames) * len(storagecleanup.Buckets)

	// A short outage: the first attempt's listings of two buckets meet a 503 (it
	// goes on with the third) and the job is retried.
	f.FailNext(503, 503)
	superAdminDeletes(t, db.Pool, ids[0])
	c := waitCleanup(t, db.Pool, ids[0], "done")
	require.Equal(t, 2, c.Attempts)
	require.Equal(t, 2, f.Count("failed"))
	require.Equal(t, perTalent, c.Removed)
	require.Nil(t, c.LastError)
	require.Empty(t, objectsOf(f, users[ids[0]]))

	// A long one: three attempts, then recorded failed; nothing removed, nothing lost.
	f.FailAlways(503)
	failedBefore := f.Count("failed")
	superAdminDeletes(t, db.Pool, ids[1])
	c = waitCleanup(t, db.Pool, ids[1], "failed")
	require.Equal(t, 3, c.Attempts)
	require.NotNil(t, c.LastError)
	require.Contains(t, *c.LastError, "gave up after 3 attempts")
	require.Contains(t, *c.LastError, "HTTP 503")
	// Each attempt tries every bucket: three refused requests per attempt.
	require.Equal(t, 3*3, f.Count("failed")-failedBefore, "every bucket tried at every attempt")
	require.Len(t, objectsOf(f, users[ids[1]]), perTalent)
	time.Sleep(2 * time.Second)
	require.Equal(t, 3*3, f.Count("failed")-failedBefore, "a failed cleanup is not tried again by itself")

	// Storage is back; the operator re-queues the failed cleanups (deploy/RUNBOOK.md).
	f.FailAlways(0)
	_, err := db.Pool.Exec(ctx, `update sidecar.storage_deletions
		set status = 'queued', attempts = 0, next_attempt_at = now(), finished_at = null, updated_at = now()
		where status = 'failed'`)
	require.NoError(t, err)
	c = waitCleanup(t, db.Pool, ids[1], "done")
	require.Equal(t, perTalent, c.Removed)
	require.Empty(t, objectsOf(f, users[ids[1]]))
	require.Len(t, objectsOf(f, users[ids[2]]), perTalent, "the talent not deleted keeps their media")
	effectsExactlyOnce(t, db, 2)
}

// Without SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY the sidecar runs, says so, and
// leaves the cleanups queued for one that has them.
func TestWithoutStorageCredentialsCleanupsWait(t *testing.T) {
	db := testdb.New(t)
	ids := seedTalents(t, db.Pool, 2)
	f := storagefake.New(storageKey, storagecleanup.Buckets...)
	t.Cleanup(f.Close)
	users := seedMedia(t, db.Pool, f, ids)

	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 20*time.Second))
	superAdminDeletes(t, db.Pool, ids[0])
	effectsExactlyOnce(t, db, 1)
	c := waitCleanup(t, db.Pool, ids[0], "queued")
	require.Zero(t, c.Attempts)
	p.Stop()

	// A sidecar with Storage access performs it.
	sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, map[string]string{"SUPABASE_URL": f.URL, "SUPABASE_SERVICE_ROLE_KEY": storageKey}))
	c = waitCleanup(t, db.Pool, ids[0], "done")
	require.Equal(t, len(mediaNames)*len(storagecleanup.Buckets), c.Removed)
	require.Empty(t, objectsOf(f, users[ids[0]]))
	require.NotEmpty(t, objectsOf(f, users[ids[1]]))
}
