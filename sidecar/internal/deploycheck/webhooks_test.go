package deploycheck

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

func TestWebhookRegistration(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, sidecartest.StubWebhooks)
	require.NoError(t, err)

	// A secret with JSON-hostile characters proves the header is built, not pasted.
	secret := `s3cr3t-"quoted"\and-long-enough`
	vars := map[string]string{"sidecar_url": "https://sidecar.example.com/", "webhook_secret": secret}
	for i := 0; i < 2; i++ { // re-running replaces, never duplicates
		out, err := sidecartest.Psql(t, db.URL, vars, "register-webhooks.sql")
		require.NoError(t, err, out)
	}
	// One webhook, on the table of the catalogue whose inserts are the notices.
	rows, err := db.Pool.Query(ctx, `select n.nspname || '.' || c.relname from pg_trigger tg
		join pg_class c on c.oid = tg.tgrelid join pg_namespace n on n.oid = c.relnamespace
		where tg.tgname = 'talent_sidecar_webhook'`)
	require.NoError(t, err)
	on, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{change.Records.QualifiedName()}, on)

	// An admin's template edit is recorded, and the record's insert is delivered.
	_, err = db.Pool.Exec(ctx, `update public.email_templates set enabled = not enabled where name = 'welcome'`)
	require.NoError(t, err)
	var url, method string
	var headers, payload []byte
	var timeout int
	require.NoError(t, db.Pool.QueryRow(ctx, `select url, method, headers, timeout_ms, payload from supabase_functions.calls order by id limit 1`).
		Scan(&url, &method, &headers, &timeout, &payload))
	require.Equal(t, "https://sidecar.example.com/webhooks/supabase", url)
	require.Equal(t, "POST", method)
	require.Equal(t, 5000, timeout)
	var h map[string]string
	require.NoError(t, json.Unmarshal(headers, &h))
	require.Equal(t, "Bearer "+secret, h["Authorization"])
	require.Equal(t, "application/json", h["Content-Type"])
	var p struct {
		Type, Table, Schema string
		Record              map[string]any `json:"record"`
		OldRecord           map[string]any `json:"old_record"`
	}
	require.NoError(t, json.Unmarshal(payload, &p))
	require.Equal(t, "INSERT", p.Type)
	require.Equal(t, change.Records.Name, p.Table)
	require.Equal(t, change.Records.Schema, p.Schema)
	require.Equal(t, "email_config", p.Record["row_key"])
	require.Equal(t, "email_templates", p.Record["table_name"])
	require.Nil(t, p.OldRecord)

	out, err := sidecartest.Psql(t, db.URL, nil, "remove-webhooks.sql")
	require.NoError(t, err, out)
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from pg_trigger where tgname = 'talent_sidecar_webhook'`).Scan(&n))
	require.Equal(t, 0, n)
}

// Bad input stops the script with a message that says what to pass, and leaves
// no trigger behind.
func TestWebhookRegistrationRefusesBadInput(t *testing.T) {
	db := testdb.New(t)
	for _, tc := range []struct {
		name string
		stub bool
		vars map[string]string
		want string
	}{
		{"no variables", true, nil, "usage: psql -v sidecar_url="},
		{"no secret", true, map[string]string{"sidecar_url": "https://x.example.com"}, "webhook_secret is not set"},
		{"short secret", true, map[string]string{"sidecar_url": "https://x.example.com", "webhook_secret": "short"}, "at least 16 characters"},
		{"not a URL", true, map[string]string{"sidecar_url": "x.example.com'; drop table t; --", "webhook_secret": strings.Repeat("a", 32)}, "must be an http(s) base URL"},
		{"no webhooks on the project", false, map[string]string{"sidecar_url": "https://x.example.com", "webhook_secret": strings.Repeat("a", 32)}, "enable Database Webhooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, err := db.Pool.Exec(ctx, "drop schema if exists supabase_functions cascade")
			require.NoError(t, err)
			if tc.stub {
				_, err = db.Pool.Exec(ctx, sidecartest.StubWebhooks)
				require.NoError(t, err)
			}
			out, err := sidecartest.Psql(t, db.URL, tc.vars, "register-webhooks.sql")
			require.Error(t, err, out)
			require.Contains(t, out, tc.want)
			if secret := tc.vars["webhook_secret"]; len(secret) > 0 {
				require.NotContains(t, out, secret, "the secret is never echoed")
			}
			var n int
			require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from pg_trigger where tgname = 'talent_sidecar_webhook'`).Scan(&n))
			require.Zero(t, n)
		})
	}
}
