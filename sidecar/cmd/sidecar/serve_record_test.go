package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// The acceptance of "nothing lost on any input path": the database keeps the record
// of every change the sidecar acts on, and each input only decides how soon.

// review moves talents as an admin would, one PostgREST request each: approvals,
// rejections (with a reason) and, by the super admin, deletes. It returns how many
// of each it made.
func review(ctx context.Context, t *testing.T, pool *pgxpool.Pool, ids []string) (approved, rejected, deleted int) {
	t.Helper()
	for i, id := range ids {
		switch i % 3 {
		case 0:
			_, err := transition(ctx, pool, id, "approved")
			require.NoError(t, err)
			approved++
		case 1:
			_, err := transition(ctx, pool, id, "rejected")
			require.NoError(t, err)
			rejected++
		case 2:
			require.NoError(t, testdb.AsRole(ctx, pool, "authenticated", superAdminID, "root@example.com", func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `delete from public.talent_profiles where id = $1`, id)
				return err
			}))
			deleted++
		}
	}
	return
}

// effectsExactlyOnce waits until every change record is processed and checks that
// each had its effects once: one audit row per admin action with the record's
// actor, one email per template and recipient, nothing for records that are not
// admin actions, nothing twice.
func effectsExactlyOnce(t *testing.T, db *testdb.DB, wantActions int) {
	t.Helper()
	ctx := context.Background()
	err := sidecartest.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		var pending, actions int
		err := db.Pool.QueryRow(ctx, `select (select count(*) from sidecar.changes where processed_at is null),
			(select count(*) from public.admin_actions)`).Scan(&pending, &actions)
		return pending == 0 && actions >= wantActions, err
	})
	if err != nil {
		var pending, actions int
		_ = db.Pool.QueryRow(ctx, `select (select count(*) from sidecar.changes where processed_at is null),
			(select count(*) from public.admin_actions)`).Scan(&pending, &actions)
		t.Fatalf("not every change took effect: %d records pending, %d of %d audit rows", pending, actions, wantActions)
	}
	// Every admin action of a record, once, with the record's actor and no other row.
	var missing, extra, wrongActor, twice int
	require.NoError(t, db.Pool.QueryRow(ctx, `
		with want as (
		  select c.id, 'change:' || c.id || '/audit' as key, c.actor_id
		    from sidecar.changes c
		   where c.table_name = 'talent_profiles' and c.actor_role in ('admin', 'super_admin')
		     and (c.op = 'DELETE' or c.old_row->>'status' is distinct from c.new_row->>'status'
		          or c.old_row->>'admin_notes' is distinct from c.new_row->>'admin_notes'
		          or c.old_row->>'rejection_reason' is distinct from c.new_row->>'rejection_reason'))
		select (select count(*) from want w where not exists (select 1 from public.admin_actions a where a.idempotency_key = w.key)),
		       (select count(*) from public.admin_actions a where not exists (select 1 from want w where w.key = a.idempotency_key)),
		       (select count(*) from want w join public.admin_actions a on a.idempotency_key = w.key
		         where a.admin_user_id is distinct from w.actor_id),
		       (select count(*) from (select change_id from public.admin_actions group by 1 having count(*) > 1) d)`).
		Scan(&missing, &extra, &wrongActor, &twice))
	require.Zero(t, missing, "admin actions without their audit row")
	require.Zero(t, extra, "audit rows of no admin action")
	require.Zero(t, wrongActor, "audit rows naming someone other than the record's actor")
	require.Zero(t, twice, "records logged twice")
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.admin_actions`).Scan(&n))
	require.Equal(t, wantActions, n)
	// Every status email of a record, once.
	var emailsMissing, emailsTwice int
	require.NoError(t, db.Pool.QueryRow(ctx, `
		with want as (
		  select 'change:' || c.id || ':' || t.tpl as prefix
		    from sidecar.changes c
		    cross join lateral (select case c.new_row->>'status' when 'approved' then 'approval'
		                                 when 'rejected' then 'rejection' end as tpl) t
		   where c.op = 'UPDATE' and c.old_row->>'status' = 'submitted' and t.tpl is not null)
		select (select count(*) from want w where not exists (
		          select 1 from public.email_notifications e where e.idempotency_key like w.prefix || ':%')),
		       (select count(*) from (select idempotency_key from public.email_notifications group by 1 having count(*) > 1) d)`).
		Scan(&emailsMissing, &emailsTwice))
	require.Zero(t, emailsMissing, "status changes without their email")
	require.Zero(t, emailsTwice, "emails queued twice")
}

// Webhooks only (REPLICATION_ENABLED=false), delivered as pg_net delivers them:
// once, dropped when the sidecar does not answer. While the sidecar is stopped,
// admins approve, reject and delete; every delivery of that time is lost. When it
// starts again, its catch-up applies every change, once.
func TestWebhookOnlyLosesNothingWhileStopped(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 45)
	hooks := sidecartest.RegisterWebhooks(t, db, secret)
	bin := sidecartest.Binary(t)
	// A catch-up interval far longer than the test: only the pass at start and the
	// passes deliveries ask for apply anything.
	env := sidecartest.Env(t, db.URL, map[string]string{"REPLICATION_ENABLED": "false", "CATCHUP_INTERVAL": "1h"})
	p := sidecartest.Start(t, bin, env)
	require.NoError(t, p.WaitState("disabled", 15*time.Second))
	hooks.Target(p.Addr)

	// Up: deliveries arrive and apply their changes.
	a1, r1, d1 := review(ctx, t, db.Pool, ids[:6])
	effectsExactlyOnce(t, db, a1+r1+d1)
	// A delivery counts as sent once its answer is back, which can be just after the
	// effects it asked for are committed.
	require.NoError(t, sidecartest.WaitFor(ctx, 10*time.Second, func() (bool, error) {
		return hooks.Sent.Load() > 0, nil
	}), "deliveries reach the running sidecar")

	// Down: every delivery is dropped.
	p.Stop()
	dropped := hooks.Dropped.Load()
	a2, r2, d2 := review(ctx, t, db.Pool, ids[6:])
	require.NoError(t, sidecartest.WaitFor(ctx, 10*time.Second, func() (bool, error) {
		return hooks.Dropped.Load()-dropped >= int64(a2+r2+d2), nil
	}), "every delivery while the sidecar is down is dropped")
	var pending int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from sidecar.changes where processed_at is null`).Scan(&pending))
	require.Equal(t, a2+r2+d2, pending, "the changes made while the sidecar was down wait in the database")

	// Up again: the catch-up at start applies them, once.
	p = sidecartest.Start(t, bin, env)
	hooks.Target(p.Addr)
	effectsExactlyOnce(t, db, a1+r1+d1+a2+r2+d2)
	t.Logf("%d deliveries sent, %d dropped; %d approvals, %d rejections, %d deletes while stopped",
		hooks.Sent.Load(), hooks.Dropped.Load(), a2, r2, d2)
}

// The slot is dropped while the sidecar is down (by an operator; an invalidated
// slot and a failover without slots look the same to it): on start the sidecar
// says so at error level, counts it, makes the slot anew, and the catch-up applies
// the changes of the gap, once.
func TestLostSlotIsLoudAndLosesNothing(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 36)
	bin := sidecartest.Binary(t)
	env := sidecartest.Env(t, db.URL, map[string]string{"CATCHUP_INTERVAL": "1h"})
	p := sidecartest.Start(t, bin, env)
	require.NoError(t, p.WaitState("streaming", 15*time.Second))
	a1, r1, d1 := review(ctx, t, db.Pool, ids[:6])
	effectsExactlyOnce(t, db, a1+r1+d1)
	p.Stop()

	a2, r2, d2 := review(ctx, t, db.Pool, ids[6:])
	_, err := db.Pool.Exec(ctx, `select pg_drop_replication_slot($1)`, env["REPLICATION_SLOT"])
	require.NoError(t, err)

	p = sidecartest.Start(t, bin, env)
	require.NoError(t, p.WaitState("streaming", 15*time.Second))
	effectsExactlyOnce(t, db, a1+r1+d1+a2+r2+d2)
	lost, err := p.Metric("sidecar_replication_slot_lost_total")
	require.NoError(t, err)
	require.Equal(t, 1.0, lost, "the lost slot is counted")
	log, err := os.ReadFile(p.Log)
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(string(log), "\n") {
		var entry struct{ Level, Msg, Slot string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Level == "ERROR" && strings.Contains(entry.Msg, "replication slot was lost") {
			found = entry.Slot == env["REPLICATION_SLOT"]
		}
	}
	require.True(t, found, "an error-level log line names the lost slot")
	var times int
	require.NoError(t, db.Pool.QueryRow(ctx, `select times_lost from sidecar.replication_slots where slot_name = $1`,
		env["REPLICATION_SLOT"]).Scan(&times))
	require.Equal(t, 1, times)
}

// A forged delivery, with the right secret, "approving" a real talent who is still
// submitted, with the next row_version and another admin as the actor: it changes
// no effect. The real approval that follows is logged with the real actor.
func TestForgedDeliveryChangesNothing(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 1)
	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, map[string]string{"REPLICATION_ENABLED": "false", "CATCHUP_INTERVAL": "1h"}))
	require.NoError(t, p.WaitState("disabled", 15*time.Second))

	row := rowJSON(t, db, ids[0])
	forged := map[string]any{}
	for k, v := range row {
		forged[k] = v
	}
	forged["status"], forged["updated_by"] = "approved", superAdminID
	forged["row_version"] = row["row_version"].(float64) + 1
	body, err := json.Marshal(map[string]any{"type": "UPDATE", "table": "talent_profiles", "schema": "public",
		"record": forged, "old_record": row})
	require.NoError(t, err)
	// And one shaped as the webhook of a change record, naming a record id to come.
	record, err := json.Marshal(map[string]any{"type": "INSERT", "table": "changes", "schema": "sidecar",
		"record": map[string]any{"id": 1, "row_key": "talent:" + ids[0], "table_name": "talent_profiles", "op": "UPDATE",
			"actor_id": superAdminID, "actor_role": "super_admin", "old_row": row, "new_row": forged}, "old_record": nil})
	require.NoError(t, err)
	for _, b := range [][]byte{body, record, body} {
		status, out := post(t, p.Addr, "Bearer "+secret, b)
		require.Equal(t, 200, status, "%v", out)
	}
	n, err := countActions(db.Pool)
	require.NoError(t, err)
	require.Zero(t, n, "a forged delivery writes no audit row")
	var emails int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.email_notifications where email_type = 'approval'`).Scan(&emails))
	require.Zero(t, emails, "a forged delivery queues no email")

	key, err := transition(ctx, db.Pool, ids[0], "approved")
	require.NoError(t, err)
	status, out := post(t, p.Addr, "Bearer "+secret, body) // a stale copy of the forgery, after the fact
	require.Equal(t, 200, status, "%v", out)
	var action, admin string
	require.NoError(t, db.Pool.QueryRow(ctx, `select action_type, admin_user_id::text from public.admin_actions
		where idempotency_key = $1`, key).Scan(&action, &admin))
	require.Equal(t, []string{"approve", adminID}, []string{action, admin}, "the real approval, with the real actor")
	effectsExactlyOnce(t, db, 1)
}

// Two replicas with webhooks only: deliveries go to either, and both catch up
// every 100ms, so the same records are claimed by both at once. No effect twice.
func TestTwoWebhookReplicasApplyOnce(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 90)
	hooks := sidecartest.RegisterWebhooks(t, db, secret)
	bin := sidecartest.Binary(t)
	env := sidecartest.Env(t, db.URL, map[string]string{"REPLICATION_ENABLED": "false", "CATCHUP_INTERVAL": "100ms",
		"BATCH_SIZE": "10"})
	a := sidecartest.Start(t, bin, env)
	b := sidecartest.Start(t, bin, env)
	require.NoError(t, a.WaitState("disabled", 15*time.Second))
	require.NoError(t, b.WaitState("disabled", 15*time.Second))
	hooks.Target(a.Addr, b.Addr)

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var part []string
			for i := w; i < len(ids); i += 3 {
				part = append(part, ids[i])
			}
			x, y, z := review(ctx, t, db.Pool, part)
			mu.Lock()
			total += x + y + z
			mu.Unlock()
		}()
	}
	wg.Wait()
	effectsExactlyOnce(t, db, total)
	var sources []string
	rows, err := db.Pool.Query(ctx, `select distinct source from public.admin_actions order by 1`)
	require.NoError(t, err)
	sources, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	t.Logf("%d admin actions; sources %v; %d deliveries sent, %d dropped", total, sources, hooks.Sent.Load(), hooks.Dropped.Load())
}

// A login role without REPLICATION (what the Supavisor session pooler offers), with
// webhooks only: every effect happens once.
func TestRoleWithoutReplication(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 30)
	role := "sidecar_norepl_" + strings.TrimPrefix(db.Name, "test_")
	_, err := db.Pool.Exec(ctx, fmt.Sprintf(`create role %s login password 'norepl-pw' noreplication bypassrls;
		grant service_role to %s`, role, role))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), fmt.Sprintf(`drop owned by %s; drop role if exists %s`, role, role))
	})
	var repl bool
	require.NoError(t, db.Pool.QueryRow(ctx, `select rolreplication from pg_roles where rolname = $1`, role).Scan(&repl))
	require.False(t, repl)
	url := strings.Replace(db.URL, "postgres:postgres@", role+":norepl-pw@", 1)
	require.NotEqual(t, db.URL, url)

	hooks := sidecartest.RegisterWebhooks(t, db, secret)
	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, url, map[string]string{"REPLICATION_ENABLED": "false", "CATCHUP_INTERVAL": "1h"}))
	require.NoError(t, p.WaitState("disabled", 15*time.Second))
	hooks.Target(p.Addr)
	a, r, d := review(ctx, t, db.Pool, ids)
	effectsExactlyOnce(t, db, a+r+d)
	var sent int
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		err := db.Pool.QueryRow(ctx, `select count(*) from public.email_notifications where status = 'sent'`).Scan(&sent)
		return sent >= a+r, err
	}), "the outbox sends as that role too")
}

// The media guard reads rows from the stream (a write that bypassed the database's
// guard shows only there): a row written with the guard trigger off is recorded in
// media_violations once, by the streaming sidecar; a later status change of the same
// row, which writes no guarded column, records nothing more.
func TestMediaGuardSeesBypassesOnTheStream(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 1)
	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 15*time.Second))

	const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	_, err := db.Pool.Exec(ctx, `alter table public.talent_profiles disable trigger talent_profiles_z_media_guard`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `update public.talent_profiles set freeform_text = $2 where id = $1`, ids[0], "data:image/png;base64,"+png)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `alter table public.talent_profiles enable trigger talent_profiles_z_media_guard`)
	require.NoError(t, err)
	require.NoError(t, sidecartest.WaitFor(ctx, 15*time.Second, func() (bool, error) {
		var n int
		err := db.Pool.QueryRow(ctx, `select count(*) from public.media_violations where row_id = $1`, ids[0]).Scan(&n)
		return n == 1, err
	}), "the bypass is recorded")
	_, err = transition(ctx, db.Pool, ids[0], "approved")
	require.NoError(t, err)
	effectsExactlyOnce(t, db, 1)
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.media_violations`).Scan(&n))
	require.Equal(t, 1, n, "a status change writes no guarded column: nothing new")
}

// Every admin edit is audited with the real binary: a notes edit (action edit, the
// old and new value), a rejection reason edit, and a bulk approval whose reason is
// on every audit row of the call.
func TestAdminEditsAndBulkReasonsAreAudited(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 4)
	bin := sidecartest.Binary(t)
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 15*time.Second))

	asAdmin := func(sql string, args ...any) {
		t.Helper()
		require.NoError(t, testdb.AsRole(ctx, db.Pool, "authenticated", adminID, "admin@example.com", func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		}))
	}
	asAdmin(`update public.talent_profiles set admin_notes = 'Warm voice.' where id = $1`, ids[0])
	asAdmin(`update public.talent_profiles set admin_notes = 'Warm voice, good mic.' where id = $1`, ids[0])
	asAdmin(`update public.talent_profiles set status = 'rejected', rejection_reason = 'Too quiet.' where id = $1`, ids[1])
	asAdmin(`update public.talent_profiles set rejection_reason = 'Too quiet; please re-record.' where id = $1`, ids[1])
	asAdmin(`select count(*) from public.admin_bulk_update($1::uuid[], 'approve', 'Strong demo reels')`, ids[2:])
	effectsExactlyOnce(t, db, 6)

	rows, err := db.Pool.Query(ctx, `select talent_profile_id::text, action_type::text, coalesce(action_reason, ''),
		coalesce(changed_columns::text, ''), admin_user_id::text from public.admin_actions order by change_id`)
	require.NoError(t, err)
	type logged struct{ Talent, Action, Reason, Changed, Admin string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[logged])
	require.NoError(t, err)
	require.Len(t, got, 6)
	require.Equal(t, []logged{
		{ids[0], "edit", "", `{"admin_notes": {"new": "Warm voice.", "old": null}}`, adminID},
		{ids[0], "edit", "", `{"admin_notes": {"new": "Warm voice, good mic.", "old": "Warm voice."}}`, adminID},
		{ids[1], "reject", "Too quiet.", `{"rejection_reason": {"new": "Too quiet.", "old": null}}`, adminID},
		{ids[1], "edit", "", `{"rejection_reason": {"new": "Too quiet; please re-record.", "old": "Too quiet."}}`, adminID},
	}, got[:4])
	// The bulk call's rows change in whatever order it updates them.
	require.ElementsMatch(t, []logged{
		{ids[2], "approve", "Strong demo reels", "", adminID},
		{ids[3], "approve", "Strong demo reels", "", adminID},
	}, got[4:])
}
