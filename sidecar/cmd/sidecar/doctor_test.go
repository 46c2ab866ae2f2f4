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
