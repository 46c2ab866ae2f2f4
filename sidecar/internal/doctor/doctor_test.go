package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// healthy returns a database in the state the sidecar leaves it: migrated (which
// sets REPLICA IDENTITY FULL), with the publication and the slot created as the
// sidecar creates them. Slot names are cluster-wide, so each test has its own.
func healthy(t *testing.T) (*testdb.DB, Options) {
	t.Helper()
	db := testdb.New(t)
	ctx := context.Background()
	opt := Options{
		DatabaseURL: db.URL,
		Slot:        "doctor_" + strings.TrimPrefix(db.Name, "test_"),
		Publication: "talent_sidecar",
		MaxLagBytes: DefaultMaxLag,
		Migrations:  diskMigrations(t),
		Timeout:     30 * time.Second,
	}
	exec(t, db, "create publication talent_sidecar for table "+strings.Join(RequiredTables, ", "))
	_, err := db.Pool.Exec(ctx, "select pg_create_logical_replication_slot($1, 'pgoutput')", opt.Slot)
	require.NoError(t, err)
	return db, opt
}

func diskMigrations(t *testing.T) []string {
	v, err := MigrationsIn(filepath.Join(testdb.Root(t), "migrations"))
	require.NoError(t, err)
	return v
}

func exec(t *testing.T, db *testdb.DB, sql string, args ...any) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func run(t *testing.T, opt Options) map[string]Result {
	t.Helper()
	results, err := Run(context.Background(), opt)
	require.NoError(t, err)
	out := map[string]Result{}
	var b bytes.Buffer
	Print(&b, opt, results)
	t.Log("\n" + b.String())
	for _, r := range results {
		out[r.Name] = r
	}
	return out
}

func failing(results map[string]Result) []string {
	var names []string
	for n, r := range results {
		if !r.OK {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func TestHealthyDatabasePassesThroughMain(t *testing.T) {
	t.Parallel()
	_, opt := healthy(t)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(),
		[]string{"--slot", opt.Slot, "--migrations-dir", filepath.Join(testdb.Root(t), "migrations")},
		func(name string) string {
			if name == "DATABASE_URL" {
				return opt.DatabaseURL
			}
			return ""
		}, &stdout, &stderr)
	t.Log("\n" + stdout.String() + stderr.String())
	require.Equal(t, ExitOK, code)
	require.NotContains(t, stdout.String(), "✗")
	require.Contains(t, stdout.String(), "11 of 11 checks passed")
	require.NotContains(t, stdout.String(), "postgres:postgres@", "the password must not be printed")
}

// Each broken state must fail exactly the check that names it, and say how to fix it.
func TestBrokenStates(t *testing.T) {
	t.Parallel()
	migrations := diskMigrations(t)
	middle := migrations[len(migrations)/2]
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, db *testdb.DB, opt *Options)
		want    []string
		detail  string
		fix     string
	}{
		{
			name: "missing migration",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "delete from supabase_migrations.schema_migrations where version = $1", middle)
			},
			want:   []string{"migrations applied"},
			detail: "1 of " + fmt.Sprint(len(migrations)) + " not applied: " + middle,
			fix:    `supabase db push --db-url "$DATABASE_URL" --include-all`,
		},
		{
			name: "no migration history",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop table supabase_migrations.schema_migrations")
			},
			want:   []string{"migrations applied"},
			detail: "does not exist",
			fix:    "supabase db push",
		},
		{
			name: "replica identity default",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter table public.talent_profiles replica identity default")
			},
			want:   []string{"REPLICA IDENTITY FULL"},
			detail: "public.talent_profiles is DEFAULT",
			fix:    "alter table public.talent_profiles replica identity full;",
		},
		{
			name: "publication missing",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop publication talent_sidecar")
			},
			want:   []string{"publication talent_sidecar"},
			detail: "does not exist",
			fix:    "create publication talent_sidecar for table public.talent_profiles, public.onboarding_progress",
		},
		{
			name: "publication missing a table",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter publication talent_sidecar drop table public.email_settings")
			},
			want:   []string{"publication talent_sidecar"},
			detail: "missing public.email_settings",
			fix:    "alter publication talent_sidecar add table public.email_settings;",
		},
		{
			name: "publication with a row filter",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter publication talent_sidecar set table public.talent_profiles where (user_id is not null), "+
					"public.onboarding_progress, public.email_settings, public.email_templates")
			},
			want:   []string{"publication talent_sidecar"},
			detail: "row filter or column list on public.talent_profiles",
			fix:    "alter publication talent_sidecar set table",
		},
		{
			name: "publication without deletes",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter publication talent_sidecar set (publish = 'insert, update')")
			},
			want:   []string{"publication talent_sidecar"},
			detail: "delete=false",
			fix:    "publish = 'insert, update, delete, truncate'",
		},
		{
			name: "slot lag over threshold",
			breakIt: func(t *testing.T, db *testdb.DB, opt *Options) {
				exec(t, db, "create table public.doctor_wal as select g from generate_series(1, 1000) g")
				opt.MaxLagBytes = 0
			},
			want:   []string{"slot lag"},
			detail: "behind (threshold 0B)",
			fix:    "no sidecar is streaming from the slot",
		},
		{
			name: "slot with another plugin",
			breakIt: func(t *testing.T, db *testdb.DB, opt *Options) {
				exec(t, db, "select pg_drop_replication_slot($1)", opt.Slot)
				exec(t, db, "select pg_create_logical_replication_slot($1, 'test_decoding')", opt.Slot)
			},
			want:   []string{"replication slot " + "%slot%"},
			detail: `uses plugin "test_decoding", not pgoutput`,
			fix:    "pg_drop_replication_slot",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, opt := healthy(t)
			tc.breakIt(t, db, &opt)
			results := run(t, opt)
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strings.ReplaceAll(w, "%slot%", opt.Slot)
			}
			require.Equal(t, want, failing(results))
			r := results[want[0]]
			require.Contains(t, r.Detail, tc.detail)
			require.Contains(t, r.Fix, tc.fix)
		})
	}
}

func TestMissingSlotIsCreatable(t *testing.T) {
	t.Parallel()
	db, opt := healthy(t)
	exec(t, db, "select pg_drop_replication_slot($1)", opt.Slot)
	results := run(t, opt)
	require.Empty(t, failing(results))
	require.Contains(t, results["replication slot "+opt.Slot].Detail, "the sidecar creates it at start")
}

// A login role without REPLICATION: the role check and the replication connection
// fail; everything it can read still passes.
func TestRoleWithoutReplication(t *testing.T) {
	t.Parallel()
	role := "doctor_role_" + suffix()
	password := suffix() + suffix()
	admin, err := pgx.Connect(context.Background(), testdb.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	_, err = admin.Exec(context.Background(), fmt.Sprintf("create role %s login password '%s'", role, password))
	require.NoError(t, err)
	// Registered before the database, so it runs after the database is dropped.
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "drop role if exists "+role); err != nil {
			t.Logf("dropping %s: %v", role, err)
		}
	})

	db, opt := healthy(t)
	exec(t, db, fmt.Sprintf("grant usage on schema supabase_migrations to %s; grant select on supabase_migrations.schema_migrations to %s", role, role))
	opt.DatabaseURL = db.URLAs(role, password)

	results := run(t, opt)
	require.Equal(t, []string{"replication connection", "role has REPLICATION"}, failing(results))
	require.Contains(t, results["role has REPLICATION"].Fix, "alter role "+role+" with replication;")
	require.Contains(t, results["replication connection"].Detail, "replication")
}

// wal_level and max_slot_wal_keep_size are server settings shared by every test:
// their checks are proven on real facts with the setting injected.
func TestServerSettingsInjected(t *testing.T) {
	t.Parallel()
	db, opt := healthy(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	facts, err := Gather(ctx, conn, nil, opt)
	require.NoError(t, err)
	require.Equal(t, "logical", facts.Settings["wal_level"])

	for _, tc := range []struct {
		setting, value, want, detail, fix string
	}{
		{"wal_level", "replica", "wal_level = logical", `wal_level is "replica"`, "alter system set wal_level = logical"},
		{"max_slot_wal_keep_size", "-1", "max_slot_wal_keep_size set", "-1 (unlimited)", "alter system set max_slot_wal_keep_size = '4GB'"},
		{"max_replication_slots", "0", "", "", ""}, // our slot exists: no free slot is needed
	} {
		f := *facts
		f.Settings = map[string]string{}
		for k, v := range facts.Settings {
			f.Settings[k] = v
		}
		f.Settings[tc.setting] = tc.value
		byName := map[string]Result{}
		for _, r := range Evaluate(&f, opt) {
			byName[r.Name] = r
		}
		if tc.want == "" {
			require.Empty(t, failing(byName), tc.setting)
			continue
		}
		require.Equal(t, []string{tc.want}, failing(byName), tc.setting)
		require.Contains(t, byName[tc.want].Detail, tc.detail)
		require.Contains(t, byName[tc.want].Fix, tc.fix)
	}
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
