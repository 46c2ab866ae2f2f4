package schematest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// policy is one row of pg_policies, the fields that define what a policy does.
type policy struct {
	Schema, Table, Name, Permissive, Cmd string
	Roles                                []string
	Qual, WithCheck                      *string
}

var policyTableRe = regexp.MustCompile(`(?m)^create policy [a-z_]+ on ([a-z_]+\.[a-z_]+)`)

// policyTables lists the tables policies/*.sql name, as the generator does.
func policyTables(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "policies", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "policies/*.sql")
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range policyTableRe.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	tables := make([]string, 0, len(seen))
	for tbl := range seen {
		tables = append(tables, tbl)
	}
	sort.Strings(tables)
	return tables
}

// snapshotPolicies reads the policies of tables, limited as the generator limits its
// drop (storage.objects also carries Supabase's own policies on hosted projects).
func snapshotPolicies(ctx context.Context, t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, tables []string) []policy {
	t.Helper()
	rows, err := q.Query(ctx, `
		select schemaname, tablename, policyname, permissive, cmd, roles::text[], qual, with_check
		  from pg_policies
		 where (schemaname || '.' || tablename) = any ($1)
		   and (schemaname = 'public' or policyname like 'talent\_media\_%')
		 order by schemaname, tablename, policyname`, tables)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (policy, error) {
		var p policy
		err := r.Scan(&p.Schema, &p.Table, &p.Name, &p.Permissive, &p.Cmd, &p.Roles, &p.Qual, &p.WithCheck)
		sort.Strings(p.Roles)
		return p, err
	})
	require.NoError(t, err)
	return out
}

func generatePolicies(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "scripts", "gen-policies.sh")).Output()
	require.NoError(t, err, "running scripts/gen-policies.sh")
	return string(out)
}

// TestPoliciesInDatabaseEqualFiles proves policies/*.sql is the one source of truth:
// applying the generator's current output to a database migrated by the Supabase CLI
// changes no policy. It fails when someone edits policies/ without `make policies`,
// or changes a policy in a migration by hand.
func TestPoliciesInDatabaseEqualFiles(t *testing.T) {
	t.Parallel()
	root := testdb.Root(t)
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tables := policyTables(t, root)
	migrated := snapshotPolicies(ctx, t, db.Pool, tables)
	require.NotEmpty(t, migrated, "the migrated database has no policies on %v", tables)

	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, generatePolicies(t, root))
	require.NoError(t, err, "applying the generated policies")
	fromFiles := snapshotPolicies(ctx, t, tx, tables)

	require.Equal(t, fromFiles, migrated,
		"policies in the migrated database differ from policies/*.sql: run `make policies NAME=<what changed>`")
}

// TestNewestPoliciesMigrationIsGenerated keeps the newest generated migration equal to
// what the generator prints now, so the reviewed migration is what the files say.
func TestNewestPoliciesMigrationIsGenerated(t *testing.T) {
	t.Parallel()
	root := testdb.Root(t)
	files, err := filepath.Glob(filepath.Join(root, "migrations", "*_policies*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no migrations/*_policies*.sql")
	sort.Strings(files)
	newest := files[len(files)-1]
	b, err := os.ReadFile(newest)
	require.NoError(t, err)
	require.Equal(t, generatePolicies(t, root), string(b),
		"%s is not the generator's current output: run `make policies NAME=<what changed>`", filepath.Base(newest))
}

// TestPolicyHelpersAreInitPlans checks, on the admin list the dashboard runs, that
// auth.uid() and private.is_admin() in the talent_profiles policy are evaluated once
// per statement (InitPlan) and not once per row (SubPlan).
func TestPolicyHelpersAreInitPlans(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := seedAdmin(ctx, t, db.Pool)
	_, err := db.Pool.Exec(ctx, seedProfilesSQL, 200)
	require.NoError(t, err)

	var plan []string
	err = testdb.AsRole(ctx, db.Pool, "authenticated", admin, "admin@example.com", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "explain (analyze, costs off, timing off, summary off) "+adminListSQL)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	text := strings.Join(plan, "\n")
	t.Logf("admin list plan:\n%s", text)
	require.Contains(t, text, "InitPlan", "policy helpers should be InitPlans")
	require.NotContains(t, text, "SubPlan", "a policy helper is evaluated per row")
	require.Regexp(t, `(?m)InitPlan \d+ \(returns \$\d+\)\n\s+->  Result \(actual rows=1 loops=1\)`, text)
}
