package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/doctor"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

func TestHealthURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
		"10.0.0.5:8080":  "http://10.0.0.5:8080/healthz",
		"[fd00::1]:8080": "http://[fd00::1]:8080/healthz",
	} {
		got, err := healthURL(addr)
		require.NoError(t, err, addr)
		require.Equal(t, want, got, addr)
	}
	for _, bad := range []string{"", "8080", "localhost"} {
		_, err := healthURL(bad)
		require.Error(t, err, bad)
	}
}

func TestHealthcheckExitCodes(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	var out, errb bytes.Buffer
	require.Equal(t, 0, dispatch(context.Background(), []string{"healthcheck", "--addr", ":" + port}, &out, &errb), errb.String())

	status = http.StatusServiceUnavailable
	require.Equal(t, 1, dispatch(context.Background(), []string{"healthcheck", "--addr", ":" + port}, &out, &errb))
	require.Contains(t, errb.String(), "503")

	srv.Close()
	require.Equal(t, 1, dispatch(context.Background(), []string{"healthcheck", "--addr", ":" + port}, &out, &errb))
	require.Equal(t, 2, dispatch(context.Background(), []string{"healthcheck", "--addr", "nonsense"}, &out, &errb))
}

// `sidecar doctor` on a freshly migrated database, before the sidecar first ran:
// the publications and the slot are missing but the sidecar makes them, so both
// modes are ready, and --replication picks the one whose verdict is the exit code.
func TestDoctorSubcommand(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	for _, mode := range []string{"true", "false"} {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"doctor", "--database-url", db.URL, "--replication=" + mode,
			"--slot", "doctor_cmd_" + strings.TrimPrefix(db.Name, "test_"), "--publication", "talent_sidecar",
			"--migrations-dir", filepath.Join(testdb.Root(t), "migrations")}, &out, &errb)
		t.Log("\n" + out.String() + errb.String())
		require.Equal(t, doctor.ExitOK, code)
		require.Contains(t, out.String(), "  replication: ready\n")
		require.Contains(t, out.String(), "  webhooks only: ready")
		selected := map[string]string{"true": "replication", "false": "webhooks only"}[mode]
		require.True(t, strings.HasSuffix(out.String(), "REPLICATION_ENABLED="+mode+" selects "+selected+": ready\n"), out.String())
	}
}

func noEnv(string) string { return "" }

// Bad input never reaches a check: it ends with exit 2 and says what is wrong.
func TestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no database", nil, "set DATABASE_URL or pass --database-url"},
		{"malformed URL", []string{"--database-url", "postgres://user:pw@[::1:5432/db"}, "must look like postgresql://"},
		{"not a postgres URL", []string{"--database-url", "mysql://root:hunter2hunter2@db:3306/x"}, "must look like postgresql://"},
		{"keyword DSN", []string{"--database-url", "host=db user=postgres"}, "must look like postgresql://"},
		{"bad URL parameter", []string{"--database-url", "postgresql://u:secretpw@127.0.0.1:5432/db?sslmode=bogus"}, "parsing database URL"},
		{"unreachable", []string{"--database-url", "postgresql://postgres:secretpw@127.0.0.1:1/postgres", "--timeout", "3s"}, "connecting to postgres@127.0.0.1:1/postgres"},
		{"hostile slot name", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--slot", "x'); drop table t; --"}, "--slot must be 1-63 characters"},
		{"oversized publication name", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--publication", strings.Repeat("p", 58)}, "--publication must be 1-57"},
		{"bad mode", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--replication=maybe"}, "invalid boolean value"},
		{"bad lag", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--max-lag", "lots"}, "--max-lag"},
		{"missing migrations dir", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--migrations-dir", "/nonexistent"}, "--migrations-dir"},
		{"stray argument", []string{"now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"--fix"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := runDoctor(context.Background(), tc.args, noEnv, &stdout, &stderr)
			require.Equal(t, doctor.ExitUsage, code)
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String(), "no checklist without a database")
			require.NotContains(t, stderr.String(), "secretpw", "passwords stay out of messages")
			require.NotContains(t, stderr.String(), "hunter2")
		})
	}
}

// REPLICATION_ENABLED is read as the sidecar reads it; a value it would refuse is
// bad input, unless --replication overrides it.
func TestReplicationEnabledFromEnvironment(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	bad := func(name string) string {
		return map[string]string{"DATABASE_URL": "postgresql://x@127.0.0.1:1/db", "REPLICATION_ENABLED": "yes"}[name]
	}
	require.Equal(t, doctor.ExitUsage, runDoctor(context.Background(), nil, bad, &stdout, &stderr))
	require.Contains(t, stderr.String(), `REPLICATION_ENABLED="yes" is not true or false`)
	stderr.Reset()
	require.Equal(t, doctor.ExitUsage, runDoctor(context.Background(), []string{"--replication=false", "--timeout", "1s"}, bad, &stdout, &stderr))
	require.Contains(t, stderr.String(), "connecting to", "the flag overrides the variable")
}
