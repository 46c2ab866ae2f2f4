package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/catchup"
)

// TestStalled: /healthz's verdict for each way a process can and cannot make
// progress.
func TestStalled(t *testing.T) {
	bound := 90 * time.Second
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	look := func(when, oldest time.Duration) *catchup.Look { return &catchup.Look{At: at(when), Oldest: oldest} }
	for _, tc := range []struct {
		name       string
		now        time.Duration
		look       *catchup.Look
		lastCommit time.Time
		applies    bool
		want       string // "" healthy, else a part of the reason
	}{
		{"just started, nothing read yet", 10 * time.Second, nil, time.Time{}, true, ""},
		{"never read the records", 100 * time.Second, nil, time.Time{}, true, "not been read for 1m40s"},
		{"read long ago", 300 * time.Second, look(200*time.Second, 0), time.Time{}, true, "not been read for 1m40s"},
		{"idle: nothing pending", 300 * time.Second, look(298*time.Second, 0), time.Time{}, true, ""},
		{"pending but young", 300 * time.Second, look(298*time.Second, 30*time.Second), time.Time{}, true, ""},
		{"old backlog just after start", 30 * time.Second, look(29*time.Second, time.Hour), time.Time{}, true, ""},
		{"old record, batches committing", 300 * time.Second, look(298*time.Second, 2*time.Minute), at(295 * time.Second), true, ""},
		{"old record, no commit since start", 300 * time.Second, look(298*time.Second, 2*time.Minute), time.Time{}, true, "no batch has committed for 5m0s"},
		{"old record, last commit long ago", 300 * time.Second, look(298*time.Second, 2*time.Minute), at(100 * time.Second), true, "waited 2m0s"},
		{"old record left to the leader by a standby", 300 * time.Second, look(298*time.Second, 2*time.Minute), time.Time{}, false, ""},
		{"a standby that cannot read", 300 * time.Second, look(100*time.Second, 0), time.Time{}, false, "not been read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := stalled(at(tc.now), start, bound, tc.look, tc.lastCommit, tc.applies)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
