package config

import (
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"
)

func load(env map[string]string) (*Config, error) {
	return Load(context.Background(), envconfig.MapLookuper(env))
}

func TestDefaults(t *testing.T) {
	c, err := load(map[string]string{"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/postgres"})
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "file", c.EmailProvider)
	require.Equal(t, "talent_sidecar", c.ReplicationSlot)
	require.Equal(t, "https://api.sendgrid.com", c.SendGridBaseURL)
}

// TestInvalid: every bad value is refused with a message naming its variable.
func TestInvalid(t *testing.T) {
	base := func(k, v string) map[string]string {
		m := map[string]string{"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/postgres"}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct{ name, key, value, want string }{
		{"missing database", "DATABASE_URL", "<unset>", "DATABASE_URL"},
		{"not a postgres url", "DATABASE_URL", "mysql://x", "DATABASE_URL"},
		{"garbage url", "DATABASE_URL", "::::", "DATABASE_URL"},
		{"addr without port", "SIDECAR_ADDR", "localhost", "SIDECAR_ADDR"},
		{"short secret", "WEBHOOK_SECRET", "short", "WEBHOOK_SECRET"},
		{"short entry in list", "WEBHOOK_SECRET", "a-long-enough-secret-1,short", "entry 2"},
		{"slot with dash", "REPLICATION_SLOT", "talent-sidecar", "REPLICATION_SLOT"},
		{"slot injection", "REPLICATION_SLOT", "x; drop table y", "REPLICATION_SLOT"},
		{"oversized slot", "REPLICATION_SLOT", strings.Repeat("a", 64), "REPLICATION_SLOT"},
		{"publication upper", "PUBLICATION", "Pub", "PUBLICATION"},
		{"batch zero", "BATCH_SIZE", "0", "BATCH_SIZE"},
		{"batch not a number", "BATCH_SIZE", "many", "BATCH_SIZE"},
		{"workers zero", "PIPELINE_WORKERS", "0", "PIPELINE_WORKERS"},
		{"workers too many", "PIPELINE_WORKERS", "1000", "PIPELINE_WORKERS"},
		{"workers not a number", "PIPELINE_WORKERS", "four", "PIPELINE_WORKERS"},
		{"batch wait huge", "BATCH_WAIT", "1h", "BATCH_WAIT"},
		{"database timeout zero", "DATABASE_TIMEOUT", "0s", "DATABASE_TIMEOUT"},
		{"database timeout huge", "DATABASE_TIMEOUT", "1h", "DATABASE_TIMEOUT"},
		{"database timeout not a duration", "DATABASE_TIMEOUT", "ten", "DATABASE_TIMEOUT"},
		{"stall timeout tiny", "STALL_TIMEOUT", "1s", "STALL_TIMEOUT"},
		{"stall timeout within two database timeouts", "STALL_TIMEOUT", "15s", "twice DATABASE_TIMEOUT"},
		{"unknown provider", "EMAIL_PROVIDER", "carrier-pigeon", "EMAIL_PROVIDER"},
		{"sendgrid without key", "EMAIL_PROVIDER", "sendgrid", "SENDGRID_API_KEY"},
		{"smtp without url", "EMAIL_PROVIDER", "smtp", "SMTP_URL"},
		{"sendgrid base not http", "SENDGRID_BASE_URL", "ftp://x", "SENDGRID_BASE_URL"},
		{"concurrency", "EMAIL_CONCURRENCY", "100000", "EMAIL_CONCURRENCY"},
		{"log level", "LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"supabase url not http", "SUPABASE_URL", "ftp://x", "SUPABASE_URL"},
		{"supabase url without key", "SUPABASE_URL", "https://ref.supabase.co", "SUPABASE_SERVICE_ROLE_KEY"},
		{"service key without url", "SUPABASE_SERVICE_ROLE_KEY", "key", "SUPABASE_URL"},
		{"cleanup attempts zero", "STORAGE_CLEANUP_MAX_ATTEMPTS", "0", "STORAGE_CLEANUP_MAX_ATTEMPTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(base(tc.key, tc.value))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestReportsEveryError: several bad variables are all named at once.
func TestReportsEveryError(t *testing.T) {
	_, err := load(map[string]string{"DATABASE_URL": "x", "LOG_LEVEL": "loud", "BATCH_SIZE": "0"})
	require.Error(t, err)
	for _, name := range []string{"DATABASE_URL", "LOG_LEVEL", "BATCH_SIZE"} {
		require.Contains(t, err.Error(), name)
	}
}

// TestStorageCleanup: Storage access is optional (removals then stay queued), and
// both settings come together.
func TestStorageCleanup(t *testing.T) {
	c, err := load(map[string]string{"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/postgres"})
	require.NoError(t, err)
	require.Empty(t, c.SupabaseURL)
	require.Equal(t, 8, c.StorageCleanupMaxAttempts)

	c, err = load(map[string]string{"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/postgres",
		"SUPABASE_URL": "http://127.0.0.1:54321", "SUPABASE_SERVICE_ROLE_KEY": "service-key"})
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:54321", c.SupabaseURL)
	require.Equal(t, "service-key", c.SupabaseServiceRoleKey)
}
