package schematest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// The figures for "Cost of RLS": the same PostgREST-shaped request as an end user
// (role authenticated, policies apply) and as service_role (bypasses RLS), measured
// interleaved in one run on one connection, so machine noise hits both alike.
//
//	go test ./sidecar/internal/schematest -run '^$' -bench RLS -benchtime 3s
//
// Each benchmark reports authenticated-ns/op, service_role-ns/op and rls/service (the
// ratio; goal: own profile within 1.2, admin list within 1.5).

// seedProfilesSQL adds $1 talents with realistic profiles in every status.
const seedProfilesSQL = `
with u as (
  insert into auth.users (id, aud, role, email)
  select gen_random_uuid(), 'authenticated', 'authenticated', 'bench.talent' || i || '@example.com'
    from generate_series(1, $1::int) i
  returning id, email
)
insert into public.talent_profiles (user_id, name, email, phone, location, status, tone_categories,
  personality_traits, predefined_answers, freeform_text, rejection_reason)
select u.id, 'Talent ' || split_part(u.email, '@', 1), u.email, '+1 555 0100', 'Portland, USA', s.status::public.talent_status,
       '{warm,calm}', '{"extroversion": 70, "formality": 40, "energy": 40, "professionalism": 55}',
       '{"experience": "Five years of voice work for radio and podcasts.", "availability": "Weekdays", "languages": "English"}',
       repeat('I love telling stories with my voice. ', 8),
       case when s.status = 'rejected' then 'Not a fit for now.' end
  from u
 cross join lateral (select (array['draft', 'submitted', 'approved', 'active', 'inactive', 'rejected'])[1 + abs(hashtext(u.email)) % 6] as status) s`

// The bodies PostgREST builds: the rows as one JSON array.
const (
	ownProfileSQL = `select coalesce(json_agg(t), '[]')::text from (select * from public.talent_profiles where id = $1) t`
	adminListSQL  = `select coalesce(json_agg(t), '[]')::text from (select * from public.talent_profiles order by created_at desc) t`
)

func seedAdmin(ctx context.Context, t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var id string
	err := pool.QueryRow(ctx, `with u as (
		insert into auth.users (id, email) values (gen_random_uuid(), 'bench.admin@example.com') returning id)
		insert into public.admin_users (id, role) select id, 'admin' from u returning id::text`).Scan(&id)
	require.NoError(t, err)
	return id
}

// request runs one PostgREST-shaped transaction in a single round trip, as PostgREST
// pipelines it: begin; role and claims local to the transaction; the query; commit.
// It returns the length of the JSON body.
func request(ctx context.Context, conn *pgx.Conn, role, claims, sql string, args ...any) (int, error) {
	batch, q := testdb.Request(role, claims, sql, args...)
	var body string
	q.QueryRow(func(r pgx.Row) error { return r.Scan(&body) })
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return 0, fmt.Errorf("running %s request: %w", role, err)
	}
	return len(body), nil
}

// benchPair times rls and base alternately (order swapped every iteration) and reports
// both means and their ratio under the names of the RLS figures.
func benchPair(b *testing.B, rls, base func() error) {
	benchPairNamed(b, "authenticated-ns/op", "service_role-ns/op", "rls/service", rls, base)
}

// benchPairNamed times rls and base alternately (order swapped every iteration) and
// reports both means, as aName and bName, and their ratio as ratio.
func benchPairNamed(b *testing.B, aName, bName, ratio string, rls, base func() error) {
	for i := 0; i < 10; i++ { // warm caches and prepared statements
		require.NoError(b, rls())
		require.NoError(b, base())
	}
	var tr, tb time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first, second, t1, t2 := rls, base, &tr, &tb
		if i%2 == 1 {
			first, second, t1, t2 = base, rls, &tb, &tr
		}
		start := time.Now()
		if err := first(); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := second(); err != nil {
			b.Fatal(err)
		}
		*t1 += mid.Sub(start)
		*t2 += time.Since(mid)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tr.Nanoseconds())/n, aName)
	b.ReportMetric(float64(tb.Nanoseconds())/n, bName)
	b.ReportMetric(float64(tr)/float64(tb), ratio)
}

// reportBackendCPU measures what the two connections' server processes spend on a
// CPU until the returned function is called, and reports it per operation as
// <a>-cpu-ns/op and <b>-cpu-ns/op, and their ratio as cpu-<b>/<a> (the throughput
// ratio a saturated database would see, without the client's share).
func reportBackendCPU(b *testing.B, aName, bName string, aCPU, bCPU func() time.Duration) func() {
	a0, b0 := aCPU(), bCPU()
	return func() {
		da, db := aCPU()-a0, bCPU()-b0
		n := float64(b.N)
		b.ReportMetric(float64(da.Nanoseconds())/n, aName+"-cpu-ns/op")
		b.ReportMetric(float64(db.Nanoseconds())/n, bName+"-cpu-ns/op")
		if da > 0 {
			b.ReportMetric(float64(db)/float64(da), "cpu-"+bName+"/"+aName)
		}
	}
}

type benchDB struct {
	conn    *pgx.Conn
	admin   string
	talent  string
	profile string
}

func newBenchDB(b *testing.B, profiles int) *benchDB {
	b.Helper()
	ctx := context.Background()
	db := testdb.New(b)
	d := &benchDB{admin: seedAdmin(ctx, b, db.Pool)}
	_, err := db.Pool.Exec(ctx, seedProfilesSQL, profiles)
	require.NoError(b, err, "seeding profiles")
	err = db.Pool.QueryRow(ctx, `select user_id::text, id::text from public.talent_profiles order by email limit 1`).
		Scan(&d.talent, &d.profile)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, "analyze")
	require.NoError(b, err)
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(b, err)
	b.Cleanup(conn.Release)
	d.conn = conn.Conn()
	return d
}

// BenchmarkRLSOwnProfile: a talent reads their own profile by id through the
// authenticated role, against the same read as service_role.
func BenchmarkRLSOwnProfile(b *testing.B) {
	d := newBenchDB(b, 10000)
	ctx := context.Background()
	talent := testdb.Claims(d.talent, "authenticated", "talent@example.com")
	service := `{"role":"service_role"}`
	n1, err := request(ctx, d.conn, "authenticated", talent, ownProfileSQL, d.profile)
	require.NoError(b, err)
	n2, err := request(ctx, d.conn, "service_role", service, ownProfileSQL, d.profile)
	require.NoError(b, err)
	require.Equal(b, n2, n1, "both roles must read the same row")
	require.Greater(b, n1, 2, "the talent must see their profile")

	benchPair(b,
		func() error {
			_, err := request(ctx, d.conn, "authenticated", talent, ownProfileSQL, d.profile)
			return err
		},
		func() error {
			_, err := request(ctx, d.conn, "service_role", service, ownProfileSQL, d.profile)
			return err
		})
}

// BenchmarkRLSAdminList: an admin lists 10,000 profiles with policies, against
// service_role listing them without.
func BenchmarkRLSAdminList(b *testing.B) {
	d := newBenchDB(b, 10000)
	ctx := context.Background()
	admin := testdb.Claims(d.admin, "authenticated", "bench.admin@example.com")
	service := `{"role":"service_role"}`
	n1, err := request(ctx, d.conn, "authenticated", admin, adminListSQL)
	require.NoError(b, err)
	n2, err := request(ctx, d.conn, "service_role", service, adminListSQL)
	require.NoError(b, err)
	require.Equal(b, n2, n1, "the admin must see every profile the service sees")
	require.Greater(b, n1, 10000*100, "the list must hold 10,000 profiles")

	benchPair(b,
		func() error { _, err := request(ctx, d.conn, "authenticated", admin, adminListSQL); return err },
		func() error { _, err := request(ctx, d.conn, "service_role", service, adminListSQL); return err })
}

// BenchmarkRecordTriggers: the cost of the change record to writers. An admin flips
// a talent between active and inactive (a status change, so a record is written),
// one PostgREST-shaped transaction per request, in a database with the record and,
// interleaved, in a clone without it. Since migration 20261203200000 the state
// machine writes the record of an update; the clone's state machine is the same
// function with the block between its "change record: begin" and "change record: end"
// comments removed (unrecordedSQL), so the two differ by exactly the record. Reports
// both and the ratio of throughputs (without/with time per request; goal ≥ 0.95).
//
//	go test ./sidecar/internal/schematest -run '^$' -bench RecordTriggers -benchtime 3000x
func BenchmarkRecordTriggers(b *testing.B) {
	ctx := context.Background()
	with := newFlipDB(b, 2000, "")
	without := newFlipDB(b, 2000, unrecordedSQL)
	benchFlips(b, with, without, "recorded", "unrecorded")
	var n int
	require.NoError(b, with.conn.QueryRow(ctx, `select count(*) from sidecar.changes`).Scan(&n))
	require.Greater(b, n, b.N, "the recorded database wrote a record per request")
	require.NoError(b, without.conn.QueryRow(ctx, `select count(*) from sidecar.changes`).Scan(&n))
	require.Zero(b, n, "the other wrote none")
}

// unrecordedSQL replaces the state machine by itself without its change record block,
// and fails when the block is not found.
const unrecordedSQL = `do $$
declare
  def text := pg_get_functiondef('private.talent_profiles_before_write()'::regprocedure);
  cut text := regexp_replace(def, '\n *-- change record: begin.*-- change record: end\n', E'\n');
begin
  if cut = def or cut ~ 'record_talent_update' then
    raise exception 'the state machine has no change record block to remove';
  end if;
  execute cut;
end $$`

// BenchmarkStatusIndexes: what talent_profiles' secondary indexes cost an admin's
// status change. An update that is not HOT writes an entry into every index; one is
// HOT only when no indexed column changes (since migration 20261203190100 no index
// holds status). The same flip as BenchmarkRecordTriggers, on 20,000 talents,
// against a clone keeping only the indexes its constraints need (primary key,
// user_id, lower(email)). Reports both and the ratio of throughputs.
//
//	go test ./sidecar/internal/schematest -run '^$' -bench StatusIndexes -benchtime 3000x
func BenchmarkStatusIndexes(b *testing.B) {
	indexed := newFlipDB(b, 20000, "")
	bare := newFlipDB(b, 20000, `do $$
		declare i record;
		begin
		  for i in select c.relname from pg_index x join pg_class c on c.oid = x.indexrelid
		            where x.indrelid = 'public.talent_profiles'::regclass and not x.indisunique
		  loop
		    execute format('drop index public.%I', i.relname);
		  end loop;
		end $$`)
	benchFlips(b, indexed, bare, "indexed", "bare")
}

// flipDB is a database of profiles, some active, and the admin who flips them.
type flipDB struct {
	conn   *pgx.Conn
	claims string
	ids    []string
}

// newFlipDB seeds profiles talents and runs prepare (changing the schema under test)
// before the benchmark's connection is opened.
func newFlipDB(b *testing.B, profiles int, prepare string) flipDB {
	ctx := context.Background()
	db := testdb.New(b)
	admin := seedAdmin(ctx, b, db.Pool)
	_, err := db.Pool.Exec(ctx, seedProfilesSQL, profiles)
	require.NoError(b, err)
	for _, sql := range []string{
		`update public.talent_profiles set status = 'active' where status in ('approved', 'inactive')`,
		prepare,
		`delete from sidecar.changes`,
		`vacuum analyze`,
	} {
		if sql != "" {
			_, err = db.Pool.Exec(ctx, sql)
			require.NoError(b, err)
		}
	}
	rows, err := db.Pool.Query(ctx, `select id::text from public.talent_profiles where status = 'active' order by id limit 500`)
	require.NoError(b, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(b, err)
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(b, err)
	b.Cleanup(conn.Release)
	return flipDB{conn.Conn(), testdb.Claims(admin, "authenticated", "bench.admin@example.com"), ids}
}

// benchFlips times an admin's status change (active <-> inactive, as PostgREST sends
// it) in x and y alternately, reporting wall time and the server processes' CPU of
// each, and their ratios (x's time over y's; y's CPU over x's, x's throughput
// relative to y's).
func benchFlips(b *testing.B, x, y flipDB, xName, yName string) {
	ctx := context.Background()
	const flip = `with t as (
		update public.talent_profiles set status = case status when 'active' then 'inactive'::public.talent_status else 'active' end
		 where id = $1 returning id, status)
		select coalesce(json_agg(t), '[]')::text from t`
	xCPU, err := testdb.BackendCPU(ctx, x.conn)
	require.NoError(b, err)
	yCPU, err := testdb.BackendCPU(ctx, y.conn)
	require.NoError(b, err)
	defer reportBackendCPU(b, xName, yName, xCPU, yCPU)()
	var i, j int
	benchPairNamed(b, xName+"-ns/op", yName+"-ns/op", xName+"/"+yName,
		func() error {
			i++
			_, err := request(ctx, x.conn, "authenticated", x.claims, flip, x.ids[i%len(x.ids)])
			return err
		},
		func() error {
			j++
			_, err := request(ctx, y.conn, "authenticated", y.claims, flip, y.ids[j%len(y.ids)])
			return err
		})
}
