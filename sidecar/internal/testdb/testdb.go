// Package testdb gives integration tests a freshly migrated database of their own,
// cloned from the template that `make db` builds with the real Supabase CLI
// (scripts/db.sh). Cloning takes a fraction of a second, so every test may have one.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// templateDB is the database scripts/db.sh migrates for tests.
const templateDB = "talent_template"

// AdminURL is the superuser URL of the local cluster: TEST_DATABASE_URL when set,
// else the cluster scripts/db.sh runs on PGPORT (default 54322).
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	port := os.Getenv("PGPORT")
	if port == "" {
		port = "54322"
	}
	return "postgresql://postgres:postgres@127.0.0.1:" + port + "/postgres"
}

// DB is one test's database.
type DB struct {
	Name string
	URL  string // superuser URL of this database
	Pool *pgxpool.Pool
}

// New creates a database from the template, drops it (and any replication slots
// on it) when the test ends, and fails the test with a clear message when the local
// cluster is not running or its template is older than migrations/.
func New(t testing.TB) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testdb: connecting to the local cluster (run `make db`): %v", err)
	}
	defer admin.Close(ctx)

	var have string
	err = admin.QueryRow(ctx,
		`select coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname = $1`,
		templateDB).Scan(&have)
	if err != nil {
		t.Fatalf("testdb: template database %s is missing (run `make db`): %v", templateDB, err)
	}
	if want := migrationsHash(t); have != want {
		t.Fatalf("testdb: template %s was built from other migrations (%s, want %s): run `make db`", templateDB, have, want)
	}

	name := "test_" + randomSuffix()
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, fmt.Sprintf("create database %s template %s", name, templateDB))
		if err == nil || attempt == 20 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("testdb: creating %s: %v", name, err)
	}

	u, _ := url.Parse(AdminURL())
	u.Path = "/" + name
	db := &DB{Name: name, URL: u.String()}
	t.Cleanup(func() { drop(t, name) })

	db.Pool, err = pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatalf("testdb: connecting to %s: %v", name, err)
	}
	t.Cleanup(db.Pool.Close)
	return db
}

func drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Logf("testdb: dropping %s: %v", name, err)
		return
	}
	defer admin.Close(ctx)
	// A database with replication slots cannot be dropped: end their walsenders first.
	for i := 0; i < 50; i++ {
		_, _ = admin.Exec(ctx, `select pg_terminate_backend(active_pid) from pg_replication_slots
			where database = $1 and active_pid is not null`, name)
		_, err = admin.Exec(ctx, `select pg_drop_replication_slot(slot_name) from pg_replication_slots
			where database = $1 and active_pid is null`, name)
		var left int
		_ = admin.QueryRow(ctx, `select count(*) from pg_replication_slots where database = $1`, name).Scan(&left)
		if left == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("drop database if exists %s with (force)", name)); err != nil {
		t.Logf("testdb: dropping %s: %v", name, err)
	}
}

// URLAs returns this database's URL for another login role and password.
func (d *DB) URLAs(user, password string) string {
	u, _ := url.Parse(d.URL)
	u.User = url.UserPassword(user, password)
	return u.String()
}

// Root returns the repository root (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "migrations")); err == nil {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testdb: repository root not found")
		}
		dir = parent
	}
}

// migrationsHash matches `scripts/db.sh hash`: the bootstrap and every migration, in order.
func migrationsHash(t testing.TB) string {
	root := Root(t)
	files, err := filepath.Glob(filepath.Join(root, "migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range append([]string{filepath.Join(root, "supabase", "local", "bootstrap.sql")}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Claims is the JWT claim set PostgREST would put in request.jwt.claims.
func Claims(sub, role, email string) string {
	return fmt.Sprintf(`{"sub":%q,"role":%q,"email":%q,"aud":"authenticated","app_metadata":{},"user_metadata":{}}`, sub, role, email)
}

// Request is one API call as PostgREST makes it, in one round trip: begin; the role
// and the JWT claims local to the transaction; the statement; commit. The returned
// QueuedQuery is the statement's: read its result through it (Exec, QueryRow, Query)
// before sending the batch.
func Request(role, claims, sql string, args ...any) (*pgx.Batch, *pgx.QueuedQuery) {
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", role, claims)
	q := b.Queue(sql, args...)
	b.Queue("commit")
	return b, q
}

// OneRow is a Request's Exec check: the statement must change exactly one row.
func OneRow(what string) func(pgconn.CommandTag) error {
	return func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("%s: %d rows changed, want 1", what, ct.RowsAffected())
		}
		return nil
	}
}

// AsRole runs fn in a transaction shaped exactly like a PostgREST request:
// `set local role <role>` and request.jwt.claims for the caller. The transaction
// commits when fn returns nil (so logical replication sees it) and rolls back otherwise.
func AsRole(ctx context.Context, pool *pgxpool.Pool, role, sub, email string, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "set local role "+pgx.Identifier{role}.Sanitize()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "select set_config('request.jwt.claims', $1, true)", Claims(sub, role, email)); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Plan is what EXPLAIN (ANALYZE, FORMAT JSON) said of a statement.
type Plan struct {
	Text string // the JSON, for the test log and for Contains checks
	tree any
}

// ExplainAnalyze runs query under EXPLAIN (ANALYZE, FORMAT JSON): it executes it, so
// a data-changing statement takes effect.
func ExplainAnalyze(t testing.TB, pool *pgxpool.Pool, query string, args ...any) Plan {
	t.Helper()
	rows, err := pool.Query(context.Background(), "explain (analyze, format json) "+query, args...)
	if err != nil {
		t.Fatalf("explaining: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explaining: %v", err)
	}
	p := Plan{Text: strings.Join(lines, "\n")}
	if err := json.Unmarshal([]byte(p.Text), &p.tree); err != nil {
		t.Fatalf("reading the plan: %v", err)
	}
	return p
}

// RowsRead sums the rows that the plan's scans of table returned or filtered out.
func (p Plan) RowsRead(table string) float64 { return rowsRead(p.tree, table) }

func rowsRead(node any, table string) float64 {
	var n float64
	switch v := node.(type) {
	case map[string]any:
		if v["Relation Name"] == table {
			rows, _ := v["Actual Rows"].(float64)
			loops, _ := v["Actual Loops"].(float64)
			removed, _ := v["Rows Removed by Filter"].(float64)
			n += (rows + removed) * loops
		}
		for _, c := range v {
			n += rowsRead(c, table)
		}
	case []any:
		for _, c := range v {
			n += rowsRead(c, table)
		}
	}
	return n
}

// BackendCPU returns a reader of the CPU time the connection's server process has
// spent so far (ProcessCPU of its pid). Benchmarks report it beside wall time: on a
// shared machine the time a request waits for a CPU is noise, its CPU is not.
func BackendCPU(ctx context.Context, conn *pgx.Conn) (func() time.Duration, error) {
	var pid int
	if err := conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		return nil, err
	}
	return func() time.Duration { return ProcessCPU(pid) }, nil
}

// ProcessCPU is the CPU time process pid has spent so far, from
// /proc/<pid>/schedstat (nanoseconds, unlike the 10 ms ticks of /proc/<pid>/stat);
// 0 once the process is gone, or for a database on another machine.
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	var ns int64
	_, _ = fmt.Sscan(string(b), &ns)
	return time.Duration(ns)
}
