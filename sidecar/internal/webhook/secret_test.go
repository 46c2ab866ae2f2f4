package webhook

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/httpapi"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// refuseAll fails the test if a delivery sets off a catch-up.
type refuseAll struct{ t *testing.T }

func (r refuseAll) Now() <-chan struct{} {
	r.t.Error("no delivery may set off a catch-up in this test")
	ch := make(chan struct{})
	close(ch)
	return ch
}

// TestSecretList: WEBHOOK_SECRET may list several secrets during a rotation; each is
// accepted, anything else (including the list itself, or a prefix) is a 401.
func TestSecretList(t *testing.T) {
	const oldS, newS = "old-secret-0123456789", "new-secret-9876543210"
	log := testlog.New(t)
	h := New(" "+oldS+" , "+newS+" ,", refuseAll{t}, time.Second, log)
	srv := httpapi.New(httpapi.Options{Addr: "127.0.0.1:0", Routes: nil, Log: log})
	h.Mount(srv.App())

	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"old secret", "Bearer " + oldS, 400}, // authenticated; the empty body is then refused
		{"new secret", "Bearer " + newS, 400},
		{"whole list", "Bearer " + oldS + "," + newS, 401},
		{"prefix of a secret", "Bearer " + oldS[:10], 401},
		{"empty entry", "Bearer ", 401},
		{"no header", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/webhooks/supabase", strings.NewReader(""))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := srv.App().Test(req)
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.StatusCode)
		})
	}
}
