package sessioncheck

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/pgbouncertest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

func probe(t *testing.T, url string) Result {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	r, err := Probe(context.Background(), cfg)
	require.NoError(t, err)
	t.Logf("session=%v behind a pooler=%v took %s evidence=%q", r.Session, r.BehindPooler, r.Took, r.Evidence)
	return r
}

// A direct connection keeps its session: no pooler, session state persists.
func TestProbeDirect(t *testing.T) {
	r := probe(t, testdb.AdminURL())
	require.True(t, r.Session, r.Evidence)
	require.False(t, r.BehindPooler)
	require.Less(t, r.Took, Timeout)
}

// pgbouncer in session mode is a pooler that keeps sessions: the probe passes.
func TestProbeSessionPooler(t *testing.T) {
	t.Log(pgbouncertest.Version())
	r := probe(t, pgbouncertest.Start(t, testdb.AdminURL(), "session"))
	require.True(t, r.Session, r.Evidence)
	require.True(t, r.BehindPooler, "pgbouncer announces a pid of its own")
}

// pgbouncer in transaction mode, as configured by default and in the shapes that
// defeat the plainest evidence: one server session only, reset after every
// transaction (the second connection finds no parameter, only the same session),
// and handed out in turn instead of most recently used first.
func TestProbeTransactionPooler(t *testing.T) {
	t.Log(pgbouncertest.Version())
	for _, tc := range []struct {
		name  string
		warm  int // server sessions opened before the probe
		extra []string
	}{
		{"default", 0, nil},
		{"default, warm", 6, nil},
		{"one server session, reset always", 0, []string{"default_pool_size = 1", "server_reset_query_always = 1"}},
		{"round robin, warm", 6, []string{"server_round_robin = 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := pgbouncertest.Start(t, testdb.AdminURL(), "transaction", tc.extra...)
			warm(t, url, tc.warm)
			r := probe(t, url)
			require.False(t, r.Session)
			require.NotEmpty(t, r.Evidence)
			require.True(t, r.BehindPooler)

			cfg, err := pgx.ParseConfig(url)
			require.NoError(t, err)
			err = Require(context.Background(), cfg)
			var refusal *Refusal
			require.True(t, errors.As(err, &refusal), "%v", err)
			require.Contains(t, err.Error(), "transaction pooler")
			require.Contains(t, err.Error(), "session pooler (the same host, port 5432)")
			require.Contains(t, err.Error(), "direct connection")
		})
	}
}

// warm makes the pooler open n server sessions, idle when it returns: n clients
// each hold a transaction at once.
func warm(t *testing.T, url string, n int) {
	ctx := context.Background()
	var conns []*pgx.Conn
	for range n {
		c, err := pgx.Connect(ctx, url+"?default_query_exec_mode=simple_protocol")
		require.NoError(t, err)
		_, err = c.Exec(ctx, "begin; select 1")
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		_, err := c.Exec(ctx, "commit")
		require.NoError(t, err)
		require.NoError(t, c.Close(ctx))
	}
}

// Supabase's transaction pooler port is refused without connecting.
func TestRequireRefusesTransactionPort(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgresql://postgres.ref:pw@127.0.0.1:6543/postgres")
	require.NoError(t, err)
	err = Require(context.Background(), cfg)
	var refusal *Refusal
	require.True(t, errors.As(err, &refusal), "%v", err)
	require.Contains(t, err.Error(), "port 6543 is Supabase's transaction pooler")
}

// A direct connection passes Require.
func TestRequireDirect(t *testing.T) {
	cfg, err := pgx.ParseConfig(testdb.AdminURL())
	require.NoError(t, err)
	require.NoError(t, Require(context.Background(), cfg))
}
