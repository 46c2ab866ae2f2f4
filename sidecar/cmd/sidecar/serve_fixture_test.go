package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

const (
	adminID      = "00000000-0000-4000-8000-00000000a001"
	superAdminID = "00000000-0000-4000-8000-00000000a002"
)

// addAdmins creates the admin (adminID) and the super_admin (superAdminID).
func addAdmins(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'admin@example.com'), ($2, 'root@example.com')`, adminID, superAdminID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `insert into public.admin_users (id, role) values ($1, 'admin'), ($2, 'super_admin')`, adminID, superAdminID)
	require.NoError(t, err)
}

// seedTalents creates the admins and n talents already submitted (by the service
// role: draft->submitted is the talent's own step, not audited).
func seedTalents(t testing.TB, pool *pgxpool.Pool, n int) []string {
	t.Helper()
	ctx := context.Background()
	addAdmins(t, pool)
	_, err := pool.Exec(ctx, `
		with u as (
		  insert into auth.users (id, email)
		  select gen_random_uuid(), 'talent' || i || '@example.com' from generate_series(1, $1) i
		  returning id, email)
		insert into public.talent_profiles (user_id, name, email)
		select id, 'Talent ' || email, email from u`, n)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `update public.talent_profiles set status = 'submitted' where status = 'draft'`)
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `select id::text from public.talent_profiles order by email`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return ids
}

// transition moves one talent as the admin through PostgREST-shaped SQL and returns
// the audit key the change must produce (from the change record the database wrote
// for it).
func transition(ctx context.Context, pool *pgxpool.Pool, id, to string) (string, error) {
	err := testdb.AsRole(ctx, pool, "authenticated", adminID, "admin@example.com", func(tx pgx.Tx) error {
		reason := any(nil)
		if to == "rejected" {
			reason = "not a fit"
		}
		tag, err := tx.Exec(ctx, `update public.talent_profiles
			set status = $2, rejection_reason = coalesce($3, rejection_reason)
			where id = $1`, id, to, reason)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("moving talent %s to %s changed %d rows", id, to, tag.RowsAffected())
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return lastRecordKey(ctx, pool, id)
}

// lastRecordKey is the audit key of the newest change record of a talent.
func lastRecordKey(ctx context.Context, pool *pgxpool.Pool, id string) (string, error) {
	var n int64
	err := pool.QueryRow(ctx, `select max(id) from sidecar.changes where row_key = 'talent:' || $1`, id).Scan(&n)
	return fmt.Sprintf("change:%d/audit", n), err
}

// auditKeys returns every idempotency key in admin_actions with its count.
func auditKeys(t testing.TB, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `select idempotency_key, count(*) from public.admin_actions group by 1`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		require.NoError(t, rows.Scan(&k, &n))
		out[k] = n
	}
	require.NoError(t, rows.Err())
	return out
}

func countActions(pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(context.Background(), `select count(*) from public.admin_actions`).Scan(&n)
	return n, err
}
