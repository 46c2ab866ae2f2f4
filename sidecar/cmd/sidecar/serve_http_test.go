package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

const secret = "test-secret-0123456789"

func post(t *testing.T, addr, auth string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/supabase", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// webhookPayload builds what Supabase's webhook trigger sends for an update:
// to_jsonb of the new and old rows.
func webhookPayload(t *testing.T, db *testdb.DB, id string, old map[string]any) ([]byte, map[string]any) {
	var rec map[string]any
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`select to_jsonb(p) from public.talent_profiles p where id = $1`, id).Scan(&rec))
	b, err := json.Marshal(map[string]any{"type": "UPDATE", "table": "talent_profiles", "schema": "public", "record": rec, "old_record": old})
	require.NoError(t, err)
	return b, rec
}

func rowJSON(t *testing.T, db *testdb.DB, id string) map[string]any {
	var rec map[string]any
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`select to_jsonb(p) from public.talent_profiles p where id = $1`, id).Scan(&rec))
	return rec
}

// TestWebhook covers every answer of POST /webhooks/supabase, replay, and the same
// change announced by webhook and by replication having one effect. A delivery is
// a notice: what it says of the row is never used.
func TestWebhook(t *testing.T) {
	db := testdb.New(t)
	ids := seedTalents(t, db.Pool, 3)
	bin := sidecartest.Binary(t)
	// Webhook-only, with no catch-up but the one at start and those deliveries ask
	// for, so the delivery is certainly what applies the change of talent 0.
	p := sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, map[string]string{"REPLICATION_ENABLED": "false", "CATCHUP_INTERVAL": "1h"}))
	require.NoError(t, p.WaitState("disabled", 15*time.Second))
	ctx := context.Background()
	require.NoError(t, sidecartest.WaitFor(ctx, 15*time.Second, func() (bool, error) {
		n, err := p.Metric("sidecar_catchup_passes_total")
		return n >= 1, err
	}), "the catch-up at start")

	old := rowJSON(t, db, ids[0])
	key, err := transition(ctx, db.Pool, ids[0], "approved")
	require.NoError(t, err)
	body, _ := webhookPayload(t, db, ids[0], old)

	tests := []struct {
		name     string
		auth     string
		body     string
		status   int
		code     string
		contains string
	}{
		{"no secret", "", string(body), 401, "unauthorized", ""},
		{"wrong secret", "Bearer " + strings.Repeat("x", len(secret)), string(body), 401, "unauthorized", ""},
		{"not bearer", secret, string(body), 401, "unauthorized", ""},
		{"oversized", "Bearer " + secret, `{"type":"INSERT","pad":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "payload_too_large", "limit"},
		{"malformed json", "Bearer " + secret, `{"type":`, 400, "invalid_payload", "JSON"},
		{"empty", "Bearer " + secret, ``, 400, "invalid_payload", "empty"},
		{"array", "Bearer " + secret, `[1,2]`, 400, "invalid_payload", "JSON object"},
		{"record not object", "Bearer " + secret, `{"type":"INSERT","table":"talent_profiles","schema":"public","record":"x","old_record":null}`, 400, "invalid_payload", "record must be an object"},
		{"missing type", "Bearer " + secret, `{"table":"talent_profiles","schema":"public","record":{}}`, 400, "invalid_payload", "type is required"},
		{"update without old", "Bearer " + secret, `{"type":"UPDATE","table":"talent_profiles","schema":"public","record":{"id":"x"},"old_record":null}`, 400, "invalid_payload", "old_record"},
		{"unknown table", "Bearer " + secret, `{"type":"INSERT","table":"secrets","schema":"public","record":{"id":"1"},"old_record":null}`, 422, "unsupported_table", "secrets"},
		{"other schema", "Bearer " + secret, `{"type":"INSERT","table":"talent_profiles","schema":"auth","record":{"id":"1"},"old_record":null}`, 422, "unsupported_table", "auth"},
		{"unknown type", "Bearer " + secret, `{"type":"TRUNCATE","table":"talent_profiles","schema":"public","record":null,"old_record":null}`, 422, "unsupported_type", "TRUNCATE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, p.Addr, tc.auth, []byte(tc.body))
			require.Equal(t, tc.status, status, "%v", out)
			e, _ := out["error"].(map[string]any)
			require.NotNil(t, e, "JSON error body: %v", out)
			require.Equal(t, tc.code, e["code"])
			require.Contains(t, e["message"], tc.contains)
		})
	}
	n, err := countActions(db.Pool)
	require.NoError(t, err)
	require.Zero(t, n, "refused requests set off nothing")

	// Valid: 200 once the catch-up it set off has committed; the row is there when
	// the answer arrives.
	status, out := post(t, p.Addr, "Bearer "+secret, body)
	require.Equal(t, 200, status, "%v", out)
	require.Equal(t, "caught_up", out["status"])
	var src, action, admin, email string
	require.NoError(t, db.Pool.QueryRow(ctx, `select source, action_type, admin_user_id::text, talent_email
		from public.admin_actions where talent_profile_id = $1`, ids[0]).Scan(&src, &action, &admin, &email))
	require.Equal(t, []string{"webhook", "approve", adminID}, []string{src, action, admin})
	require.Equal(t, "talent1@example.com", email)
	require.Equal(t, map[string]int{key: 1}, auditKeys(t, db.Pool))

	// Replay: 200, no second row.
	status, _ = post(t, p.Addr, "Bearer "+secret, body)
	require.Equal(t, 200, status)
	n, err = countActions(db.Pool)
	require.NoError(t, err)
	require.Equal(t, 1, n, "a replayed delivery has no second effect")

	// Start replication (a second instance): it consumes the same change from the
	// slot created now, and the next change of talent 1 arrives by both inputs.
	p.Stop()
	p = sidecartest.Start(t, bin, sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 15*time.Second))
	old = rowJSON(t, db, ids[1])
	key, err = transition(ctx, db.Pool, ids[1], "rejected")
	require.NoError(t, err)
	body, _ = webhookPayload(t, db, ids[1], old)
	status, out = post(t, p.Addr, "Bearer "+secret, body)
	require.Equal(t, 200, status, "%v", out)
	// Replication has caught up once a later change of another talent is logged.
	_, err = transition(ctx, db.Pool, ids[2], "approved")
	require.NoError(t, err)
	require.NoError(t, sidecartest.WaitFor(ctx, 15*time.Second, func() (bool, error) {
		var n int
		err := db.Pool.QueryRow(ctx, `select count(*) from public.admin_actions where talent_profile_id = $1`, ids[2]).Scan(&n)
		return n == 1, err
	}))
	var rows, reasonOK int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*), count(*) filter (where action_reason = 'not a fit')
		from public.admin_actions where idempotency_key = $1`, key).Scan(&rows, &reasonOK))
	require.Equal(t, 1, rows, "one row for a change seen by both inputs")
	require.Equal(t, 1, reasonOK)
}
