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
select u.id, 'Talent ' || split_part(u.email, '@', 1), u.email, '+1 555 0100', 'Portland, USA', s.status,
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
	batch := &pgx.Batch{}
	batch.Queue("begin")
	batch.Queue("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", role, claims)
	var body string
	batch.Queue(sql, args...).QueryRow(func(r pgx.Row) error { return r.Scan(&body) })
	batch.Queue("commit")
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return 0, fmt.Errorf("running %s request: %w", role, err)
	}
	return len(body), nil
}

// benchPair times rls and base alternately (order swapped every iteration) and reports
// both means and their ratio.
func benchPair(b *testing.B, rls, base func() error) {
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
	b.ReportMetric(float64(tr.Nanoseconds())/n, "authenticated-ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/n, "service_role-ns/op")
	b.ReportMetric(float64(tr)/float64(tb), "rls/service")
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
