package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/pgbouncertest"
	"github.com/talent-onboarding/backend/sidecar/internal/sessioncheck"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// doctorBinary runs `bin/sidecar doctor` with env as its whole environment and
// returns its output and exit code.
func doctorBinary(t *testing.T, bin string, env map[string]string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, "doctor")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("sidecar doctor (%s):\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// Through a transaction-mode pgbouncer (on its own port, so only the probe can tell)
// with webhooks only: the doctor fails, naming the transaction pooler and what to use
// instead, and the service exits at once with the same refusal, never ready.
func TestTransactionPoolerIsRefused(t *testing.T) {
	db := testdb.New(t)
	bin := sidecartest.Binary(t)
	t.Log(pgbouncertest.Version())
	env := sidecartest.Env(t, pgbouncertest.Start(t, db.URL, "transaction"), map[string]string{"REPLICATION_ENABLED": "false"})

	out, code := doctorBinary(t, bin, env)
	require.Equal(t, 1, code)
	require.Contains(t, out, "✗ session connection")
	require.Contains(t, out, "a transaction pooler, a connection without session state")
	require.Contains(t, out, "fix: "+sessioncheck.Fix)
	require.Contains(t, out, "webhooks only: not available — missing: session connection")
	require.Contains(t, out, "REPLICATION_ENABLED=false selects webhooks only: not ready")

	start := time.Now()
	p := sidecartest.Start(t, bin, env)
	for !p.Exited() {
		ready, _ := p.Ready()
		require.False(t, ready, "the service reported ready through a transaction pooler")
		require.Less(t, time.Since(start), 15*time.Second, "the service is still running")
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 1, p.ExitCode())
	t.Logf("the service exited after %s", time.Since(start).Round(time.Millisecond))
	log, err := os.ReadFile(p.Log)
	require.NoError(t, err)
	require.Contains(t, string(log), "DATABASE_URL leads to a transaction pooler, a connection without session state")
	require.Contains(t, string(log), sessioncheck.Fix)
	require.NotContains(t, string(log), "sidecar started")
}

// Through a session-mode pgbouncer, as through Supabase's session pooler: the doctor
// says webhooks only is ready, the service starts and becomes ready, and an approval
// committed directly is logged and mailed once, announced by its webhook.
func TestSessionPoolerServesWebhooksOnly(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	ids := seedTalents(t, db.Pool, 3)
	hooks := sidecartest.RegisterWebhooks(t, db, secret)
	bin := sidecartest.Binary(t)
	// A catch-up interval far longer than the test: the delivery applies the approval.
	env := sidecartest.Env(t, pgbouncertest.Start(t, db.URL, "session"),
		map[string]string{"REPLICATION_ENABLED": "false", "CATCHUP_INTERVAL": "1h"})

	out, code := doctorBinary(t, bin, env)
	require.Equal(t, 0, code)
	require.Contains(t, out, "✓ session connection")
	require.Contains(t, out, "behind a pooler that keeps sessions")
	require.Contains(t, out, "DATABASE_URL points at a connection pooler", "the replication connection's fix names the pooler the probe saw")
	require.Contains(t, out, "  webhooks only: ready\n")
	require.Contains(t, out, "REPLICATION_ENABLED=false selects webhooks only: ready")

	p := sidecartest.Start(t, bin, env)
	require.NoError(t, p.WaitState("disabled", 15*time.Second))
	ready, _ := p.Ready()
	require.True(t, ready)
	hooks.Target(p.Addr)

	_, err := transition(ctx, db.Pool, ids[0], "approved")
	require.NoError(t, err)
	effectsExactlyOnce(t, db, 1)
	require.NoError(t, sidecartest.WaitFor(ctx, 10*time.Second, func() (bool, error) {
		return hooks.Sent.Load() > 0, nil
	}), "the delivery reached the sidecar")
}
