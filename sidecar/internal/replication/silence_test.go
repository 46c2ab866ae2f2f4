package replication

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSilenceBound(t *testing.T) {
	for _, tc := range []struct {
		name         string
		wst, standby time.Duration
		want         time.Duration
	}{
		{"server default", time.Minute, 10 * time.Second, 30 * time.Second},
		{"short server timeout, frequent status", 10 * time.Second, time.Second, 5 * time.Second},
		{"never below three status rounds", 10 * time.Second, 10 * time.Second, 30 * time.Second},
		{"server timeout off", 0, time.Second, 30 * time.Second},
		{"long server timeout", 10 * time.Minute, 10 * time.Second, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, silenceBound(tc.wst, tc.standby))
		})
	}
}
