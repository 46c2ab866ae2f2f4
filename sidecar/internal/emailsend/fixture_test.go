package emailsend

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/email"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// fixture is a fresh database with the email configuration loaded, as the sidecar
// has it when the outbox starts.
type fixture struct {
	db   *testdb.DB
	pool *pgxpool.Pool
	live *email.Live
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db := testdb.New(t)
	f := &fixture{db: db, pool: db.Pool, live: email.NewLive(db.Pool, testlog.New(t))}
	require.NoError(t, f.live.Load(context.Background()))
	return f
}
