package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/doctor/inspect"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// healthy returns a database in the state the sidecar leaves it: migrated (which
// sets REPLICA IDENTITY FULL and writes the change record), with the publications
// and the slot made by the sidecar's own replication.EnsurePublication and
// EnsureSlot. Slot names are cluster-wide, so each test has its own.
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
	require.NoError(t, replication.EnsurePublication(ctx, db.Pool, opt.Publication))
	_, _, err := replication.EnsureSlot(ctx, db.Pool, opt.Slot)
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

func run(t *testing.T, opt Options) map[string]checkResult {
	t.Helper()
	byName, _ := runReport(t, opt)
	return byName
}

// runReport runs the checks and returns them by name, and the printed report.
func runReport(t *testing.T, opt Options) (map[string]checkResult, string) {
	t.Helper()
	results, err := runChecks(context.Background(), opt)
	require.NoError(t, err)
	out := map[string]checkResult{}
	var b bytes.Buffer
	printReport(&b, opt, results)
	t.Log("\n" + b.String())
	for _, r := range results {
		out[r.Name] = r
	}
	return out, b.String()
}

func failing(results map[string]checkResult) []string {
	return pick(results, func(r checkResult) bool { return !r.OK })
}

func warning(results map[string]checkResult) []string {
	return pick(results, func(r checkResult) bool { return r.OK && r.Warn })
}

func pick(results map[string]checkResult, keep func(checkResult) bool) []string {
	var names []string
	for n, r := range results {
		if keep(r) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// check runs Check as `sidecar doctor --slot <opt.Slot> --migrations-dir migrations`
// does with REPLICATION_ENABLED=enabled and DATABASE_URL=opt.DatabaseURL (how the
// command turns its flags and environment into Options is cmd/sidecar's test).
func check(opt Options, enabled string, stdout, stderr io.Writer) int {
	opt.WebhooksOnly = enabled == "false"
	opt.MaxLagBytes = DefaultMaxLag
	opt.Timeout = 20 * time.Second
	return Check(context.Background(), opt, stdout, stderr)
}

// newRole creates a login role for one test and drops it when the test ends.
// Roles are cluster-wide: the name is unique, and the cleanup is registered before
// the test's database, so it runs after the database (and its grants) is gone.
func newRole(t *testing.T, attributes string) (role, password string) {
	t.Helper()
	role, password = "doctor_role_"+suffix(), suffix()+suffix()
	admin, err := pgx.Connect(context.Background(), testdb.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	_, err = admin.Exec(context.Background(), fmt.Sprintf("create role %s login password '%s' %s", role, password, attributes))
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "drop role if exists "+role); err != nil {
			t.Logf("dropping %s: %v", role, err)
		}
	})
	return role, password
}

// (a) The sidecar's own setup with a superuser: both modes are ready, and the exit
// code is 0 whichever REPLICATION_ENABLED selects.
func TestHealthyDatabasePassesThroughCheck(t *testing.T) {
	t.Parallel()
	_, opt := healthy(t)
	for _, enabled := range []string{"", "true", "false"} {
		var stdout, stderr bytes.Buffer
		code := check(opt, enabled, &stdout, &stderr)
		out := stdout.String()
		t.Log("\n" + out + stderr.String())
		require.Equal(t, ExitOK, code)
		require.NotContains(t, out, "✗")
		require.Contains(t, out, "  replication: ready\n")
		require.NotContains(t, out, "postgres:postgres@", "the password must not be printed")
		if enabled == "false" {
			// No webhook is registered: a warning about latency, not a failure.
			require.Contains(t, out, "  webhooks only: ready (warnings: webhook registered)\n")
			require.True(t, strings.HasSuffix(out, "REPLICATION_ENABLED=false selects webhooks only: ready\n"), out)
		} else {
			require.Contains(t, out, "18 of 18 checks passed\n")
			require.Contains(t, out, "  webhooks only: ready\n")
			require.True(t, strings.HasSuffix(out, "REPLICATION_ENABLED=true selects replication: ready\n"), out)
		}
	}
}

// Each broken state must fail (or, when the sidecar sets it right by itself, warn
// about) exactly the check that names it, and say how to fix it.
func TestBrokenStates(t *testing.T) {
	t.Parallel()
	migrations := diskMigrations(t)
	middle := migrations[len(migrations)/2]
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, db *testdb.DB, opt *Options)
		want    []string // failing checks
		warn    []string // checks passing with a warning
		detail  string   // of the first of want, else of warn
		fix     string
	}{
		{
			name: "missing migration",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "delete from supabase_migrations.schema_migrations where version = $1", middle)
			},
			want:   []string{"migrations applied"},
			detail: "1 of " + fmt.Sprint(len(migrations)) + " not applied: " + middle,
			fix:    `supabase db push --remote="$DATABASE_URL" --include-all`,
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
			name: "record trigger missing",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop trigger talent_profiles_record_delete on public.talent_profiles")
			},
			want:   []string{"change record"},
			detail: "missing trigger talent_profiles_record_delete on public.talent_profiles",
			fix:    "supabase db push",
		},
		{
			name: "state machine without its record",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop trigger talent_profiles_before_write on public.talent_profiles")
			},
			want:   []string{"change record"},
			detail: "missing trigger talent_profiles_before_write on public.talent_profiles",
			fix:    "supabase db push",
		},
		{
			name: "state machine that writes no record",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, `create or replace function private.talent_profiles_before_write() returns trigger
					language plpgsql set search_path = '' as $$ begin return new; end $$`)
			},
			want:   []string{"change record"},
			detail: "missing the change record of updates on public.talent_profiles (trigger talent_profiles_before_write's function writes none)",
			fix:    "supabase db push",
		},
		{
			name: "record trigger disabled",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter table public.email_settings disable trigger email_settings_record_change")
			},
			want:   []string{"change record"},
			detail: "disabled: email_settings_record_change on public.email_settings",
			fix:    "alter table public.email_settings enable trigger email_settings_record_change;",
		},
		{
			name: "media guard trigger dropped",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop trigger talent_profiles_z_media_guard on public.talent_profiles")
			},
			warn:   []string{"media guard"},
			detail: "no enabled BEFORE … FOR EACH ROW trigger on public.talent_profiles runs private.talent_profiles_media_guard",
			fix:    "supabase db push",
		},
		{
			name: "media guard trigger disabled",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter table public.onboarding_progress disable trigger onboarding_progress_z_media_guard")
			},
			warn:   []string{"media guard"},
			detail: "trigger onboarding_progress_z_media_guard on public.onboarding_progress is disabled",
			fix:    "alter table public.onboarding_progress enable trigger onboarding_progress_z_media_guard;",
		},
		{
			// Re-created by hand with a column left out of UPDATE OF; the insert side
			// and the other columns are covered.
			name: "media guard trigger leaving a column out",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop trigger talent_profiles_z_media_guard on public.talent_profiles")
				exec(t, db, `create trigger talent_profiles_z_media_guard
					before insert or update of name, email, phone, location, headshot_urls, video_sample_url,
					  freeform_audio_url, tone_categories, personality_traits, custom_tone, predefined_answers,
					  admin_notes, rejection_reason, session_id
					on public.talent_profiles for each row execute function private.talent_profiles_media_guard()`)
			},
			warn:   []string{"media guard"},
			detail: "an UPDATE of freeform_text on public.talent_profiles does not run private.talent_profiles_media_guard",
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
			name: "publication missing a table",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter publication talent_sidecar_media drop table public.onboarding_progress")
			},
			warn:   []string{"publication talent_sidecar_media"},
			detail: "missing public.onboarding_progress; the sidecar corrects it at start",
			fix:    "alter publication talent_sidecar_media set table public.talent_profiles, public.onboarding_progress;",
		},
		{
			name: "publication publishing its records' updates",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter publication talent_sidecar set (publish = 'insert, update')")
			},
			warn:   []string{"publication talent_sidecar"},
			detail: `publishes "insert, update", not "insert"`,
			fix:    "alter publication talent_sidecar set (publish = 'insert');",
		},
		{
			// EnsurePublication leaves a filter on the right tables alone.
			name: "publication with a row filter",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "alter publication talent_sidecar_media set table public.talent_profiles where (user_id is not null), "+
					"public.onboarding_progress")
			},
			want:   []string{"publication talent_sidecar_media"},
			detail: "row filter or column list on public.talent_profiles",
			fix:    "alter publication talent_sidecar_media set table public.talent_profiles, public.onboarding_progress;",
		},
		{
			// ALTER PUBLICATION cannot change a FOR ALL TABLES publication.
			name: "publication for all tables",
			breakIt: func(t *testing.T, db *testdb.DB, _ *Options) {
				exec(t, db, "drop publication talent_sidecar")
				exec(t, db, "create publication talent_sidecar for all tables with (publish = 'insert')")
			},
			want:   []string{"publication talent_sidecar"},
			detail: "publishes FOR ALL TABLES",
			fix:    "drop publication talent_sidecar; create publication talent_sidecar for table sidecar.changes with (publish = 'insert');",
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
		{
			// sidecar.replication_slots remembers it: dropped, or lost in a failover.
			name: "slot lost",
			breakIt: func(t *testing.T, db *testdb.DB, opt *Options) {
				exec(t, db, "select pg_drop_replication_slot($1)", opt.Slot)
			},
			warn:   []string{"replication slot " + "%slot%"},
			detail: "lost: missing, though this database had it",
			fix:    "nothing is lost",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, opt := healthy(t)
			tc.breakIt(t, db, &opt)
			results := run(t, opt)
			subst := func(names []string) []string {
				if len(names) == 0 {
					return nil
				}
				out := make([]string, len(names))
				for i, w := range names {
					out[i] = strings.ReplaceAll(w, "%slot%", opt.Slot)
				}
				return out
			}
			want, warn := subst(tc.want), subst(tc.warn)
			require.Equal(t, want, failing(results))
			require.Equal(t, warn, warning(results))
			r := results[append(want, warn...)[0]]
			require.Contains(t, r.Detail, tc.detail)
			require.Contains(t, r.Fix, tc.fix)
		})
	}
}

// (d) A record trigger missing keeps both modes from working: whichever input
// runs, the changes of that table are never recorded.
func TestMissingRecordTriggerFailsBothModes(t *testing.T) {
	t.Parallel()
	db, opt := healthy(t)
	exec(t, db, "drop trigger talent_profiles_record_delete on public.talent_profiles")
	for _, enabled := range []string{"true", "false"} {
		var stdout, stderr bytes.Buffer
		code := check(opt, enabled, &stdout, &stderr)
		out := stdout.String()
		t.Log("\n" + out + stderr.String())
		require.Equal(t, ExitFailed, code, "REPLICATION_ENABLED=%s", enabled)
		require.Contains(t, out, "  replication: not available — missing: change record\n")
		require.Contains(t, out, "  webhooks only: not available — missing: change record\n")
		require.Contains(t, out, "talent_profiles_record_delete")
	}
}

// (c) The publication of a release before the change record (the four watched
// tables, every operation) is reported with the statements that fix it, and it is
// exactly what EnsurePublication then corrects.
func TestOldShapePublication(t *testing.T) {
	t.Parallel()
	db, opt := healthy(t)
	exec(t, db, "drop publication talent_sidecar, talent_sidecar_media")
	exec(t, db, "create publication talent_sidecar for table public.talent_profiles, public.onboarding_progress, "+
		"public.email_settings, public.email_templates")

	results, out := runReport(t, opt)
	require.Empty(t, failing(results))
	require.Equal(t, []string{"publication talent_sidecar"}, warning(results))
	r := results["publication talent_sidecar"]
	require.Contains(t, r.Detail, "missing sidecar.changes")
	require.Contains(t, r.Detail, "also publishes public.email_settings, public.email_templates, public.onboarding_progress, public.talent_profiles")
	require.Contains(t, r.Detail, `publishes "insert, update, delete, truncate", not "insert"`)
	require.Contains(t, r.Detail, "a release before the change record")
	require.Equal(t, "alter publication talent_sidecar set table sidecar.changes; alter publication talent_sidecar set (publish = 'insert');", r.Fix)
	require.Contains(t, results["publication talent_sidecar_media"].Detail, "the sidecar creates it at start")
	require.Contains(t, out, "  replication: ready (warnings: publication talent_sidecar)\n")

	// The doctor's expectation is EnsurePublication's result, nothing else.
	require.NoError(t, replication.EnsurePublication(context.Background(), db.Pool, opt.Publication))
	results = run(t, opt)
	require.Empty(t, failing(results))
	require.Empty(t, warning(results))

	// A role that may not alter the publication cannot have the sidecar correct it.
	role, password := newRole(t, "replication bypassrls in role service_role")
	exec(t, db, fmt.Sprintf("grant usage on schema supabase_migrations to %s; grant select on supabase_migrations.schema_migrations to %s", role, role))
	exec(t, db, "alter publication talent_sidecar set (publish = 'insert, update, delete')")
	as := opt
	as.DatabaseURL = db.URLAs(role, password)
	results = run(t, as)
	require.Equal(t, []string{"publication talent_sidecar"}, failing(results))
	require.Contains(t, results["publication talent_sidecar"].Fix, "alter publication talent_sidecar set (publish = 'insert'); (as the publication's owner")
}

func TestMissingSlotIsCreatable(t *testing.T) {
	t.Parallel()
	db, opt := healthy(t)
	exec(t, db, "select pg_drop_replication_slot($1)", opt.Slot)
	exec(t, db, "delete from sidecar.replication_slots")
	exec(t, db, "drop publication talent_sidecar_media")
	results := run(t, opt)
	require.Empty(t, failing(results))
	require.Empty(t, warning(results))
	require.Contains(t, results["replication slot "+opt.Slot].Detail, "the sidecar creates it at start")
	require.Contains(t, results["publication talent_sidecar_media"].Detail, "the sidecar creates it at start")
}

// (b) A login role without REPLICATION but with what the sidecar's role gets from
// the migrations (service_role's grants, and BYPASSRLS, which is not inherited):
// replication is not available, webhooks only is, and the exit code follows
// REPLICATION_ENABLED.
func TestRoleWithoutReplication(t *testing.T) {
	t.Parallel()
	role, password := newRole(t, "noreplication bypassrls in role service_role")
	db, opt := healthy(t)
	exec(t, db, fmt.Sprintf("grant usage on schema supabase_migrations to %s; grant select on supabase_migrations.schema_migrations to %s", role, role))
	opt.DatabaseURL = db.URLAs(role, password)

	results := run(t, opt)
	require.Equal(t, []string{"replication connection", "role has REPLICATION"}, failing(results))
	require.Contains(t, results["role has REPLICATION"].Fix, "alter role "+role+" with replication;")
	require.Contains(t, results["replication connection"].Detail, "replication")
	require.True(t, results["change record access"].OK, results["change record access"].Detail)

	for enabled, want := range map[string]int{"true": ExitFailed, "false": ExitOK} {
		var stdout, stderr bytes.Buffer
		code := check(opt, enabled, &stdout, &stderr)
		out := stdout.String()
		t.Log("\n" + out + stderr.String())
		require.Equal(t, want, code, "REPLICATION_ENABLED=%s", enabled)
		require.Contains(t, out, "with role "+role+", this database allows:\n")
		require.Contains(t, out, "  replication: not available — missing: role has REPLICATION, replication connection\n")
		require.Contains(t, out, "  webhooks only: ready")
		require.NotContains(t, out, password)
	}
}

// A role with none of the sidecar's grants can run neither mode: it may not claim
// the change records, and row level security would hide them anyway.
func TestRoleWithoutGrants(t *testing.T) {
	t.Parallel()
	role, password := newRole(t, "")
	db, opt := healthy(t)
	exec(t, db, fmt.Sprintf("grant usage on schema supabase_migrations to %s; grant select on supabase_migrations.schema_migrations to %s", role, role))
	opt.DatabaseURL = db.URLAs(role, password)
	opt.WebhooksOnly = true

	results, out := runReport(t, opt)
	require.Equal(t, []string{"change record access", "replication connection", "role has REPLICATION", "slot memory access"}, failing(results))
	r := results["change record access"]
	require.Contains(t, r.Detail, "lacks USAGE on schema sidecar, SELECT, UPDATE(processed_at), DELETE on sidecar.changes")
	require.Contains(t, r.Detail, "row level security hides every row")
	require.Contains(t, r.Fix, "grant usage on schema sidecar to "+role+";")
	require.Contains(t, r.Fix, "grant select, update (processed_at), delete on table sidecar.changes to "+role+";")
	require.Contains(t, r.Fix, "alter role "+role+" bypassrls;")
	require.Contains(t, results["slot memory access"].Fix, "grant select, insert, update on table sidecar.replication_slots to "+role+";")
	require.Contains(t, out, "  webhooks only: not available — missing: change record access\n")
	require.True(t, strings.HasSuffix(out, "REPLICATION_ENABLED=false selects webhooks only: not ready\n"), out)

	// The fix it prints is enough.
	exec(t, db, r.Fix[:strings.Index(r.Fix, "alter role")])
	admin, err := pgx.Connect(context.Background(), testdb.AdminURL())
	require.NoError(t, err)
	defer admin.Close(context.Background())
	_, err = admin.Exec(context.Background(), "alter role "+role+" bypassrls")
	require.NoError(t, err)
	results = run(t, opt)
	require.True(t, results["change record access"].OK, results["change record access"].Detail)
}

// The webhook of register-webhooks.sql is found on the change records; one left on
// a talent table by an earlier release is a warning, and the secret never shows.
func TestWebhookRegistered(t *testing.T) {
	t.Parallel()
	db, opt := healthy(t)
	opt.WebhooksOnly = true
	results := run(t, opt)
	require.Equal(t, []string{"webhook registered"}, warning(results))
	require.Contains(t, results["webhook registered"].Detail, "each change waits for the next catch-up")
	require.Contains(t, results["webhook registered"].Fix, "deploy/supabase/register-webhooks.sql")

	exec(t, db, sidecartest.StubWebhooks)
	secret := "doctor-secret-" + suffix() + suffix()
	out, err := sidecartest.Psql(t, db.URL, map[string]string{"sidecar_url": "https://sidecar.example.com", "webhook_secret": secret}, "register-webhooks.sql")
	require.NoError(t, err, out)
	results, report := runReport(t, opt)
	require.Empty(t, warning(results))
	require.Equal(t, "on sidecar.changes, posting to https://sidecar.example.com/webhooks/supabase", results["webhook registered"].Detail)
	require.NotContains(t, report, secret)

	exec(t, db, "create trigger talent_sidecar_webhook after update on public.talent_profiles "+
		"for each row execute function supabase_functions.http_request('https://old.example.com/webhooks/supabase', 'POST', '{}', '{}', '5000')")
	results = run(t, opt)
	require.Equal(t, []string{"webhook registered"}, warning(results))
	require.Contains(t, results["webhook registered"].Detail, "also on public.talent_profiles")
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
	facts, err := inspect.Gather(ctx, conn, nil, opt.Slot, opt.Publication)
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
		byName := map[string]checkResult{}
		for _, r := range evaluate(&f, opt) {
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
