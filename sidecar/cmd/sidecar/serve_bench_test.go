package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// Run with: go test ./sidecar/cmd/sidecar -run '^$' -bench . -benchtime 1x
// Each benchmark is one full scenario (a fresh database, a real process); b.N is
// not a useful multiplier for them, so they run their scenario once.

const pgRecvLogical = "/usr/lib/postgresql/15/bin/pg_recvlogical"

// rssSampler records the highest VmRSS of a process while running.
type rssSampler struct {
	max  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func sampleRSS(p *sidecartest.Proc) *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			if r := p.RSS(); r > s.max.Load() {
				s.max.Store(r)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *rssSampler) Stop() int64 { close(s.stop); s.wg.Wait(); return s.max.Load() }

// BenchmarkBacklogDrain: with the sidecar stopped, 5,000 talents are submitted (by the
// service, in one statement), then approved, activated and deactivated by the admin
// through admin_bulk_update, 1,000 at a time (20,000 row changes, 15,000 audit rows,
// 25,000 emails); see drainScenario for what is measured.
func BenchmarkBacklogDrain(b *testing.B) {
	const talents = 5000
	drainScenario(b, talents, 4*talents, 3*talents, 5*talents, func(ctx context.Context, db *testdb.DB) {
		_, err := db.Pool.Exec(ctx, `update public.talent_profiles set status = 'submitted'`)
		require.NoError(b, err)
		rows, err := db.Pool.Query(ctx, `select id from public.talent_profiles`)
		require.NoError(b, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[[16]byte])
		require.NoError(b, err)
		for _, action := range []string{"approve", "activate", "deactivate"} {
			for i := 0; i < len(ids); i += 1000 {
				chunk := ids[i:min(i+1000, len(ids))]
				err := testdb.AsRole(ctx, db.Pool, "authenticated", adminID, "admin@example.com", func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, `select count(*) from public.admin_bulk_update($1::uuid[], $2)`, chunk, action)
					return err
				})
				require.NoError(b, err)
			}
		}
	})
}

// BenchmarkBacklogDrainRequests is the drain of a backlog written the way PostgREST
// writes it: one transaction per request, as the talent (role authenticated, the
// talent's JWT claims) or the admin, through 16 clients at once. Each talent saves a
// draft of their answers (an update that writes guarded columns: the media guard
// checks it on the stream), submits, and is approved by the admin; talents and the
// admin interleave. 3 changes per talent; effects: one audit row per approval, three
// emails per talent.
//
// 20,000 talents by default (60,000 changes, the backlog issue #17 names);
// BENCH_DRAIN_TALENTS sets another number for a quicker run.
func BenchmarkBacklogDrainRequests(b *testing.B) {
	talents := 20000
	if s := os.Getenv("BENCH_DRAIN_TALENTS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err, "BENCH_DRAIN_TALENTS")
		talents = n
	}
	drainScenario(b, talents, 3*talents, talents, 3*talents, func(ctx context.Context, db *testdb.DB) {
		rows, err := db.Pool.Query(ctx, `select p.id::text, p.user_id::text, p.email from public.talent_profiles p`)
		require.NoError(b, err)
		type talent struct{ ID, User, Email string }
		all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[talent])
		require.NoError(b, err)
		request := func(pool *pgxpool.Pool, claims, sql string, args ...any) error {
			bt, q := testdb.Request("authenticated", claims, sql, args...)
			q.Exec(testdb.OneRow(sql))
			return pool.SendBatch(ctx, bt).Close()
		}
		cfg, err := pgxpool.ParseConfig(db.URL)
		require.NoError(b, err)
		cfg.MaxConns = 16
		load, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(b, err)
		defer load.Close()
		admin := testdb.Claims(adminID, "authenticated", "admin@example.com")
		work := make(chan talent)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t := range work {
					claims := testdb.Claims(t.User, "authenticated", t.Email)
					for _, step := range []struct{ claims, sql string }{
						{claims, `update public.talent_profiles set freeform_text = 'Ten years of radio and audiobooks.',
							personality_traits = '{"extroversion": 60, "energy": 70}' where id = $1`},
						{claims, `update public.talent_profiles set status = 'submitted' where id = $1`},
						{admin, `update public.talent_profiles set status = 'approved' where id = $1`},
					} {
						if err := request(load, step.claims, step.sql, t.ID); err != nil {
							b.Log(err)
							failed.Add(1)
						}
					}
				}
			}()
		}
		for _, t := range all {
			work <- t
		}
		close(work)
		wg.Wait()
		require.Zero(b, failed.Load())
	})
}

// drainScenario: talents exist and the sidecar has made its slot; build writes the
// backlog (changes row changes of the talents, wantRows audit rows and wantEmails
// emails to come) while the sidecar is stopped; then the sidecar starts and the time
// until the last audit row is committed (its emails are queued in the same
// transactions) is measured, and, separately, the time until the outbox has sent
// every email. pg_recvlogical decodes the same WAL range from slots created at the
// same point, in the same run, as the baseline: once before the drain and twice after
// it, the median of the three.
func drainScenario(b *testing.B, talents, changes, wantRows, wantEmails int, build func(ctx context.Context, db *testdb.DB)) {
	db := testdb.New(b)
	bin := sidecartest.Binary(b)
	ctx := context.Background()
	addAdmins(b, db.Pool)
	_, err := db.Pool.Exec(ctx, `
		with u as (
		  insert into auth.users (id, email)
		  select gen_random_uuid(), 'talent' || i || '@example.com' from generate_series(1, $1) i
		  returning id, email)
		insert into public.talent_profiles (user_id, name, email) select id, 'Talent ' || email, email from u`, talents)
	require.NoError(b, err)

	// Emails go to the SendGrid fake, the provider production uses. (The file
	// provider creates two files per email, and how fast a file system creates
	// files is not what this measures: on a machine whose /tmp had once held
	// millions of files, that took a millisecond of CPU each.)
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()
	env := benchEnv(b, db, fake)
	p := sidecartest.Start(b, bin, env)
	require.NoError(b, p.WaitState("streaming", 60*time.Second))
	p.Stop()
	// Three baseline slots at the same point: pg_recvlogical's time on this machine
	// varies from run to run as much as ours does, so the baseline is the median of
	// three reads of the same range.
	_, err = db.Pool.Exec(ctx, `select pg_create_logical_replication_slot('bench_recv_' || i, 'pgoutput')
		from generate_series(1, 3) i`)
	require.NoError(b, err)

	build(ctx, db)
	var endLSN string
	require.NoError(b, db.Pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&endLSN))
	// The baseline: pg_recvlogical decodes the backlog's range from one of the
	// three slots, once now and twice after the drain (on an otherwise idle
	// machine each time), so that the median brackets the drain in time.
	var recvs, recvCPUs, recvOwns []time.Duration
	recvRead := func(i int) {
		rcpu := sidecartest.BusyCPU(b)
		rstart := time.Now()
		cmd := exec.Command(pgRecvLogical, "-d", db.URL, "--slot", fmt.Sprint("bench_recv_", i), "--start", "--no-loop",
			"-o", "proto_version=1", "-o", "publication_names=talent_sidecar,talent_sidecar_media", "-P", "pgoutput",
			"--endpos", endLSN, "-f", "/dev/null")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(b, cmd.Start())
		// Its walsender's CPU, read until it exits (a 10 ms sample or less lost).
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var wpid int
		var wcpu time.Duration
	poll:
		for {
			select {
			case err := <-done:
				require.NoError(b, err, "%s", out.String())
				break poll
			case <-time.After(10 * time.Millisecond):
				if wpid == 0 {
					_ = db.Pool.QueryRow(ctx, `select active_pid from pg_replication_slots where slot_name = $1 and active_pid is not null`, fmt.Sprint("bench_recv_", i)).Scan(&wpid)
				}
				if wpid != 0 {
					if c := testdb.ProcessCPU(wpid); c > 0 {
						wcpu = c
					}
				}
			}
		}
		recvs = append(recvs, time.Since(rstart))
		recvCPUs = append(recvCPUs, sidecartest.BusyCPU(b)-rcpu)
		recvOwns = append(recvOwns, wcpu+cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	recvRead(1)

	b.ResetTimer()
	cpu0, pg0 := sidecartest.BusyCPU(b), sidecartest.PostgresCPU(b)
	start := time.Now()
	p = sidecartest.Start(b, bin, env)
	rss := sampleRSS(p)
	stopTrace := traceDrain(db, p, start)
	err = sidecartest.WaitFor(ctx, 120*time.Second, func() (bool, error) {
		n, err := countActions(db.Pool)
		return n >= wantRows, err
	})
	stopTrace()
	drain := time.Since(start)
	drainCPU, pgCPU := sidecartest.BusyCPU(b)-cpu0, sidecartest.PostgresCPU(b)-pg0
	sidecarCPU := p.CPU()
	// The walsender that decoded the backlog for the sidecar (it started with the
	// sidecar, so all its CPU is the drain's).
	var walsender int
	_ = db.Pool.QueryRow(ctx, `select pid from pg_stat_replication where application_name = 'talent_sidecar_replication'`).Scan(&walsender)
	walsenderCPU := testdb.ProcessCPU(walsender)
	// The sidecar's own database connections (the walsender among them), which it
	// opened when it started: counted by process, so that other work on a shared
	// machine does not blur the comparison of one code change with another.
	var backends []int
	if rows, err := db.Pool.Query(ctx, `select pid from pg_stat_activity where application_name like 'talent_sidecar%'`); err == nil {
		backends, _ = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	var backendsCPU time.Duration
	for _, pid := range backends {
		backendsCPU += testdb.ProcessCPU(pid)
	}
	b.StopTimer()
	batchSum, _ := p.Metric("sidecar_batch_size_sum")
	batches, _ := p.Metric("sidecar_batch_size_count")
	drainRSS := rss.Stop()
	require.NoError(b, err)
	// Every email was queued with its audit row (same transactions), none held back
	// by flood control.
	var queued, failed int
	require.NoError(b, db.Pool.QueryRow(ctx, `select count(*), count(*) filter (where status = 'failed')
		from public.email_notifications`).Scan(&queued, &failed))
	require.Equal(b, wantEmails, queued)
	require.Zero(b, failed)
	// The outbox yields while the pipeline is behind; report when it caught up.
	err = sidecartest.WaitFor(ctx, 120*time.Second, func() (bool, error) {
		var left int
		err := db.Pool.QueryRow(ctx, `select count(*) from public.email_notifications where status = 'queued'`).Scan(&left)
		return left == 0, err
	})
	require.NoError(b, err)
	allSent := time.Since(start)
	p.Stop()
	require.Len(b, fake.Accepted(), wantEmails, "emails accepted by the SendGrid fake")
	require.Empty(b, fake.Invalid())

	recvRead(2)
	recvRead(3)
	taken := slices.Clone(recvs) // before, after, after
	slices.Sort(recvs)
	recv := recvs[1]
	slices.Sort(recvCPUs)
	recvCPU := recvCPUs[1]
	slices.Sort(recvOwns)
	recvOwn := recvOwns[1]

	rate := float64(changes) / drain.Seconds()
	recvRate := float64(changes) / recv.Seconds()
	b.ReportMetric(rate, "changes/s")
	b.ReportMetric(recvRate, "pg_recvlogical_changes/s")
	b.ReportMetric(rate/recvRate, "ratio_to_pg_recvlogical")
	b.ReportMetric(drain.Seconds(), "drain_s")
	b.ReportMetric(drainCPU.Seconds(), "drain_cpu_s")
	b.ReportMetric(sidecarCPU.Seconds(), "sidecar_cpu_s")
	b.ReportMetric(recvCPU.Seconds(), "pg_recvlogical_cpu_s")
	// CPU per 1,000 changes (issue 24): the machine's over the drain, split into
	// Postgres (backends, walsender and every other Postgres process), the
	// walsender alone and the sidecar, against the machine's while pg_recvlogical
	// decoded the same range (median of three); the ratio is the figure that
	// carries to another machine.
	perK := func(d time.Duration) float64 { return d.Seconds() / float64(changes) * 1000 }
	b.ReportMetric(perK(drainCPU), "cpu_s_per_1k")
	b.ReportMetric(perK(pgCPU), "postgres_cpu_s_per_1k")
	b.ReportMetric(perK(walsenderCPU), "walsender_cpu_s_per_1k")
	b.ReportMetric(perK(sidecarCPU), "sidecar_cpu_s_per_1k")
	b.ReportMetric(perK(recvCPU), "pg_recvlogical_cpu_s_per_1k")
	b.ReportMetric(drainCPU.Seconds()/recvCPU.Seconds(), "cpu_ratio_to_pg_recvlogical")
	// The same counted by process (for a shared machine): the sidecar and its
	// backends against pg_recvlogical and its walsender.
	b.ReportMetric(perK(backendsCPU), "sidecar_backends_cpu_s_per_1k")
	b.ReportMetric(perK(recvOwn), "pg_recvlogical_own_cpu_s_per_1k")
	b.ReportMetric((backendsCPU+sidecarCPU).Seconds()/recvOwn.Seconds(), "own_cpu_ratio_to_pg_recvlogical")
	b.ReportMetric(float64(drainRSS)/(1<<20), "drain_rss_MiB")
	b.ReportMetric(allSent.Seconds(), "all_emails_sent_s")
	if batches > 0 {
		b.ReportMetric(batchSum/batches, "events_per_batch")
	}
	b.Logf("drained %d row changes (%d audit rows, %d emails queued) in %s (%.0f/s, %.2f CPU-s, %.2f of them the sidecar's); pg_recvlogical decoded them in %s (%.0f/s, %.2f CPU-s; median of %s, read before, after, after); ratio %.2f; RSS max %.1f MiB; every email sent %s after start",
		changes, wantRows, queued, drain.Round(time.Millisecond), rate, drainCPU.Seconds(), sidecarCPU.Seconds(), recv.Round(time.Millisecond), recvRate, recvCPU.Seconds(), taken, rate/recvRate, float64(drainRSS)/(1<<20), allSent.Round(time.Millisecond))
}

// BenchmarkSteadyLatency: admins approve talents at a fixed rate (100, 300 and 1,000
// transactions/s, one PostgREST-shaped round trip each, offered through 32 clients)
// while the sidecar streams; reports, at each rate, the rate achieved, the
// commit-to-audit-row latency (admin_actions.created_at, the sidecar transaction's
// start, minus committed_at, the change record's time: the changing transaction's
// start, a little before its commit) at p50 and p99, the machine's busy CPU over the
// run (2 cores: 2 CPU-s per second at saturation) and the sidecar's RSS.
func BenchmarkSteadyLatency(b *testing.B) {
	for _, rate := range []int{100, 300, 1000} {
		b.Run(fmt.Sprintf("%dtps", rate), func(b *testing.B) { steadyLatency(b, rate, 6) })
	}
}

func steadyLatency(b *testing.B, rate, seconds int) {
	db := testdb.New(b)
	bin := sidecartest.Binary(b)
	// One talent more per client: the warm-up rejects them (below).
	const clients = 32
	ids := seedTalents(b, db.Pool, rate*seconds+clients)
	warm, ids := ids[:clients], ids[clients:]
	// Each approval queues an email, sent through the SendGrid fake as in production
	// (the file provider would measure how fast this file system creates files).
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()
	p := sidecartest.Start(b, bin, benchEnv(b, db, fake))
	require.NoError(b, p.WaitState("streaming", 60*time.Second))
	ctx := context.Background()
	// The seed's submissions are change records too: the sidecar's catch-up applies
	// them at start. The steady state begins once they are done and their emails sent.
	settled := func() (bool, error) {
		var pending, queued int
		err := db.Pool.QueryRow(ctx, `select (select count(*) from sidecar.changes where processed_at is null),
			(select count(*) from public.email_notifications where status = 'queued')`).Scan(&pending, &queued)
		return pending == 0 && queued == 0, err
	}
	require.NoError(b, sidecartest.WaitFor(ctx, 120*time.Second, settled))

	// The load has its own pool, as large as the workers: the test pool's default of
	// max(4, cores) connections held it to about 450 tx/s.
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(b, err)
	cfg.MaxConns = clients
	load, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(b, err)
	defer load.Close()
	claims := testdb.Claims(adminID, "authenticated", "admin@example.com")
	warmPool(b, load, claims, warm)
	// The warm-up's records applied (audit rows written) and its emails sent.
	require.NoError(b, sidecartest.WaitFor(ctx, 60*time.Second, settled))

	b.ResetTimer()
	rss := sampleRSS(p)
	cpu0, sidecar0, pg0 := sidecartest.BusyCPU(b), p.CPU(), sidecartest.PostgresCPU(b)
	work := make(chan string, len(ids))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := approveOneTrip(ctx, load, claims, id); err != nil {
					b.Log(err)
					failed.Add(1)
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for _, id := range ids {
		<-tick.C
		work <- id
	}
	tick.Stop()
	close(work)
	wg.Wait()
	achieved := float64(len(ids)) / time.Since(start).Seconds()
	require.Zero(b, failed.Load())
	require.NoError(b, sidecartest.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		n, err := countActions(db.Pool)
		return n >= len(warm)+len(ids), err
	}))
	b.StopTimer()
	steadyRSS := rss.Stop()
	defer p.Stop() // a graceful stop, so that a profile (BENCH_CPU_PROFILE) is written
	cpu, sidecarCPU, pgCPU := sidecartest.BusyCPU(b)-cpu0, p.CPU()-sidecar0, sidecartest.PostgresCPU(b)-pg0

	var p50, p99, max float64
	require.NoError(b, db.Pool.QueryRow(ctx, `
		select percentile_cont(0.5) within group (order by ms), percentile_cont(0.99) within group (order by ms), max(ms)
		  from (select extract(epoch from created_at - committed_at) * 1000 ms from public.admin_actions
		         where action_type = 'approve') s`).Scan(&p50, &p99, &max))
	var worst string
	require.NoError(b, db.Pool.QueryRow(ctx, `
		select coalesce(string_agg(format('%s ms (change %s, %s, at +%s)', ms, change_id, source, at), '; '), '')
		  from (select round((extract(epoch from created_at - committed_at) * 1000)::numeric, 1) ms, change_id, source,
		               round(extract(epoch from committed_at - min(committed_at) over ())::numeric, 2) || ' s, ' || to_char(committed_at at time zone 'UTC', 'HH24:MI:SS.MS') as at
		          from public.admin_actions where action_type = 'approve' order by 1 desc limit 8) w`).Scan(&worst))
	retries, _ := p.Metric("sidecar_claim_retries_total")
	b.Logf("slowest: %s; claims retried for records not yet visible: %.0f", worst, retries)
	b.ReportMetric(achieved, "tx/s")
	b.ReportMetric(p50, "p50_ms")
	b.ReportMetric(p99, "p99_ms")
	b.ReportMetric(float64(steadyRSS)/(1<<20), "steady_rss_MiB")
	b.ReportMetric(cpu.Seconds(), "busy_cpu_s")
	b.ReportMetric(sidecarCPU.Seconds(), "sidecar_cpu_s")
	b.ReportMetric(pgCPU.Seconds(), "postgres_cpu_s")
	b.Logf("%d tx/s offered, %.0f achieved for %ds: commit-to-audit-row p50 %.2f ms, p99 %.2f ms, max %.2f ms; RSS max %.1f MiB; machine busy %.2f CPU-s, Postgres %.2f, the sidecar %.2f",
		rate, achieved, seconds, p50, p99, max, float64(steadyRSS)/(1<<20), cpu.Seconds(), pgCPU.Seconds(), sidecarCPU.Seconds())
}

// warmPool opens one connection of the load pool per warm-up talent and rejects that
// talent on it, as the admin: PostgREST's connections are long-lived, and a backend's
// first request (the fork, its catalog and plan caches, the state machine's
// transition and change record path compiled) is not the steady state being
// measured. A rejection runs the same triggers as an approval and gives the sidecar
// an audit row and an email to write, and the latency figures count approvals only.
func warmPool(b *testing.B, pool *pgxpool.Pool, claims string, talents []string) {
	ctx := context.Background()
	conns := make([]*pgxpool.Conn, 0, len(talents))
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for _, id := range talents {
		c, err := pool.Acquire(ctx)
		require.NoError(b, err)
		conns = append(conns, c)
		bt, q := testdb.Request("authenticated", claims,
			"update public.talent_profiles set status = 'rejected', rejection_reason = 'Warm-up' where id = $1", id)
		q.Exec(testdb.OneRow("rejecting " + id))
		require.NoError(b, c.SendBatch(ctx, bt).Close())
	}
}

// approveOneTrip approves a talent as the admin the way PostgREST does it (the role
// and the JWT claims set for the transaction, then the update), in one round trip.
func approveOneTrip(ctx context.Context, pool *pgxpool.Pool, claims, id string) error {
	bt, q := testdb.Request("authenticated", claims, "update public.talent_profiles set status = 'approved' where id = $1", id)
	q.Exec(testdb.OneRow("approving " + id))
	return pool.SendBatch(ctx, bt).Close()
}

// traceDrain prints, every 50 ms while a drain runs and only with BENCH_TRACE set,
// the audit rows and emails committed so far and what each of the sidecar's
// backends and the walsender is waiting on: where a slow drain spends its time.
func traceDrain(db *testdb.DB, p *sidecartest.Proc, start time.Time) (stop func()) {
	if os.Getenv("BENCH_TRACE") == "" {
		return func() {}
	}
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var audit, emails, sent int
			var waits string
			_ = db.Pool.QueryRow(ctx, `
				select (select count(*) from public.admin_actions),
				       count(*), count(*) filter (where status = 'sent'),
				       (select coalesce(string_agg(backend_type || ':' || coalesce(wait_event, state, '-'), ' '), '')
				          from pg_stat_activity
				         where application_name like 'talent_sidecar%' or backend_type = 'walsender')
				  from public.email_notifications`).Scan(&audit, &emails, &sent, &waits)
			_, state := p.Ready()
			fmt.Fprintf(os.Stderr, "%6.3fs %s audit=%d emails=%d sent=%d waits: %s\n",
				time.Since(start).Seconds(), state, audit, emails, sent, waits)
		}
	}()
	return func() { close(done); wg.Wait() }
}

// benchEnv is a benchmark sidecar's environment: emails to the SendGrid fake, the
// outbox polling at its default pace (a sidecar wakes its own outbox on commit).
func benchEnv(b *testing.B, db *testdb.DB, fake *sendgridfake.Server) map[string]string {
	env := emailEnv(b, db, fake)
	env["LOG_LEVEL"] = benchLogLevel()
	env["EMAIL_POLL_INTERVAL"] = "500ms"
	if v := os.Getenv("BENCH_BATCH_WAIT"); v != "" {
		env["BATCH_WAIT"] = v
	}
	if v := os.Getenv("BENCH_WORKERS"); v != "" {
		env["PIPELINE_WORKERS"] = v
	}
	// BENCH_CPU_PROFILE=file profiles the sidecar over the run (go tool pprof bin/sidecar file).
	if f := os.Getenv("BENCH_CPU_PROFILE"); f != "" {
		env["SIDECAR_CPU_PROFILE"] = f
	}
	return env
}

// benchLogLevel lets a run show the sidecar's debug log (BENCH_LOG_LEVEL=debug).
func benchLogLevel() string {
	if l := os.Getenv("BENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}
