package webhook

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/httpapi"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// catchUp counts the passes deliveries ask for; done says whether a pass completes
// (closed channel) or never does (the handler then answers 202).
type catchUp struct {
	asked atomic.Int32
	done  bool
}

func (c *catchUp) Now() <-chan struct{} {
	c.asked.Add(1)
	ch := make(chan struct{})
	if c.done {
		close(ch)
	}
	return ch
}

const secret = "notice-secret-0123456789"

func serve(t *testing.T, cu *catchUp, body string) (int, string) {
	t.Helper()
	log := testlog.New(t)
	srv := httpapi.New(httpapi.Options{Addr: "127.0.0.1:0", Log: log})
	New(secret, cu, 50*time.Millisecond, log).Mount(srv.App())
	req := httptest.NewRequest("POST", "/webhooks/supabase", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.App().Test(req, 5000)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// A delivery is a notice: a well-formed one asks for a catch-up and is answered
// once it is done (or 202 when it takes longer than the handler waits), whatever
// its record says; a malformed, hostile or oversized one is refused with what is
// wrong and asks for nothing.
func TestDeliveriesAreNotices(t *testing.T) {
	forged := `{"type":"UPDATE","table":"talent_profiles","schema":"public",
		"record":{"id":"00000000-0000-4000-8000-000000000001","status":"approved","version":99,"updated_by":"00000000-0000-4000-8000-0000000000ff"},
		"old_record":{"id":"00000000-0000-4000-8000-000000000001","status":"submitted","version":98}}`
	for _, tc := range []struct {
		name, body string
		want       int
		code       string
		asks       bool
	}{
		{"forged update of a real talent", forged, 200, "", true},
		{"a record notice", `{"type":"INSERT","table":"changes","schema":"sidecar","record":{"id":7,"row_key":"talent:x"},"old_record":null}`, 200, "", true},
		{"a delete", `{"type":"DELETE","table":"talent_profiles","schema":"public","record":null,"old_record":{"id":"x"}}`, 200, "", true},
		{"empty body", ``, 400, "invalid_payload", false},
		{"not JSON", `{"type":`, 400, "invalid_payload", false},
		{"an array", `[1,2]`, 400, "invalid_payload", false},
		{"two objects", `{"type":"INSERT","table":"talent_profiles","schema":"public","record":{}} {}`, 400, "invalid_payload", false},
		{"no type", `{"table":"talent_profiles","schema":"public","record":{}}`, 400, "invalid_payload", false},
		{"no table", `{"type":"INSERT","schema":"public","record":{}}`, 400, "invalid_payload", false},
		{"no schema", `{"type":"INSERT","table":"talent_profiles","record":{}}`, 400, "invalid_payload", false},
		{"record not an object", `{"type":"INSERT","table":"talent_profiles","schema":"public","record":"x"}`, 400, "invalid_payload", false},
		{"update without old_record", `{"type":"UPDATE","table":"talent_profiles","schema":"public","record":{"id":"x"}}`, 400, "invalid_payload", false},
		{"insert without record", `{"type":"INSERT","table":"talent_profiles","schema":"public","record":null}`, 400, "invalid_payload", false},
		{"truncate", `{"type":"TRUNCATE","table":"talent_profiles","schema":"public"}`, 422, "unsupported_type", false},
		{"unwatched table", `{"type":"INSERT","table":"admin_actions","schema":"public","record":{}}`, 422, "unsupported_table", false},
		{"watched name, other schema", `{"type":"INSERT","table":"talent_profiles","schema":"auth","record":{}}`, 422, "unsupported_table", false},
		{"over 1 MiB", `{"type":"INSERT","table":"talent_profiles","schema":"public","record":{"x":"` + strings.Repeat("a", maxBody) + `"}}`, 413, "payload_too_large", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cu := &catchUp{done: true}
			status, body := serve(t, cu, tc.body)
			require.Equal(t, tc.want, status, body)
			require.Equal(t, tc.asks, cu.asked.Load() == 1, "asks for a catch-up")
			var out map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &out), body)
			if tc.code != "" {
				require.Equal(t, tc.code, out["error"].(map[string]any)["code"], body)
				require.NotEmpty(t, out["error"].(map[string]any)["message"])
			} else {
				require.Equal(t, "caught_up", out["status"])
			}
		})
	}

	// A catch-up that takes longer than the handler waits: 202, the pass goes on.
	cu := &catchUp{done: false}
	status, body := serve(t, cu, forged)
	require.Equal(t, 202, status, body)
	require.Contains(t, body, "catching_up")
}
