package schematest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

var migrationNameRe = regexp.MustCompile(`^\d{14}_[a-z0-9_]+\.sql$`)

// TestMigrationNames keeps migrations/ in the shape the Supabase CLI applies: every
// file named <14-digit timestamp>_<name>.sql, no two with the same timestamp (the CLI
// keys its history by it), nothing else in the directory.
func TestMigrationNames(t *testing.T) {
	t.Parallel()
	root := testdb.Root(t)
	entries, err := os.ReadDir(filepath.Join(root, "migrations"))
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	versions := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		require.False(t, e.IsDir(), "migrations/%s is a directory", name)
		require.Regexp(t, migrationNameRe, name, "migrations/%s: name must be <14-digit timestamp>_<lowercase name>.sql", name)
		v := name[:14]
		require.NotContains(t, versions, v, "migrations/%s and %s share version %s", name, versions[v], v)
		versions[v] = name
	}
}

// TestSupabaseMigrationsIsMigrations: `supabase db push` reads supabase/migrations, the
// project keeps them in migrations/; the former must resolve to the latter.
func TestSupabaseMigrationsIsMigrations(t *testing.T) {
	t.Parallel()
	root := testdb.Root(t)
	want, err := filepath.EvalSymlinks(filepath.Join(root, "migrations"))
	require.NoError(t, err)
	got, err := filepath.EvalSymlinks(filepath.Join(root, "supabase", "migrations"))
	require.NoError(t, err, "supabase/migrations is missing")
	require.Equal(t, want, got, "supabase/migrations must resolve to migrations/")
}
