package imagetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// gracePeriod is the Deployment's terminationGracePeriodSeconds: a stop must finish
// well inside it.
const gracePeriod = 30 * time.Second

// TestImageRun starts the image three times with podman on the host network, as
// a production `podman run` would (read-only root filesystem, no extra rights):
// each start is timed to 200 on /readyz with the slot streaming, and each stop, a
// SIGTERM, to the exit, which must be code 0 with the slot released. The first
// run also checks the user, the read-only root, the image's own HEALTHCHECK, and
// that one approval gives one audit row and one approval email at SendGrid.
func TestImageRun(t *testing.T) {
	ctx := context.Background()
	p := newPodman(t)
	image := loadImage(t, p)
	// Containers of an interrupted earlier run (this store is the tests' own).
	if stale := strings.Fields(p.must("ps", "-a", "-q", "--filter", "name=^imagetest-")); len(stale) > 0 {
		p.must(append([]string{"rm", "-f", "-t", "0"}, stale...)...)
	}
	db := testdb.New(t)
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()
	ids, emails := submittedTalents(t, db, 1)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	slot := db.Name
	env := map[string]string{
		"DATABASE_URL":        db.URL,
		"REPLICATION_SLOT":    slot,
		"SIDECAR_ADDR":        addr,
		"WEBHOOK_SECRET":      "imagetest-secret-0123456789",
		"EMAIL_PROVIDER":      "sendgrid",
		"SENDGRID_API_KEY":    sendGridKey,
		"SENDGRID_BASE_URL":   fake.URL,
		"EMAIL_POLL_INTERVAL": "100ms",
		"STANDBY_INTERVAL":    "1s",
	}
	args := []string{"run", "-d", "--read-only", "--network", "host"}
	for k, v := range env {
		args = append(args, "--env", k+"="+v)
	}

	var starts, procStarts, stops []time.Duration
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("imagetest-%s-%d", db.Name, i)
		t.Cleanup(func() {
			if t.Failed() {
				logs, _ := p.run("logs", name)
				t.Logf("%s output:\n%s", name, logs)
			}
			_, _ = p.run("rm", "-f", "-t", "0", name)
		})
		start := time.Now()
		p.must(append(append(args, "--name", name), image)...)
		require.NoError(t, sidecartest.WaitReadyAt("http://"+addr, "streaming", 30*time.Second))
		ready := time.Now()
		starts = append(starts, ready.Sub(start))
		// The process's own share: from the runtime starting it (conmon's record).
		started, err := strconv.ParseInt(p.must("inspect", "--format", "{{.State.StartedAt.UnixNano}}", name), 10, 64)
		require.NoError(t, err)
		procStarts = append(procStarts, ready.Sub(time.Unix(0, started)))

		if i == 0 {
			requireHardened(t, p, name)
			require.Equal(t, "65532:65532", p.must("inspect", "--format", "{{.Config.User}}", name))
			require.Equal(t, "true", p.must("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", name))
			// The HEALTHCHECK came with the image (docker-archive keeps it) and passes.
			require.Equal(t, `["CMD","/sidecar","healthcheck"]`,
				p.must("inspect", "--format", "{{json .Config.Healthcheck.Test}}", name))
			p.must("healthcheck", "run", name)
			require.Equal(t, "healthy", p.must("inspect", "--format", "{{.State.Health.Status}}", name))
			require.Contains(t, p.must("exec", name, "/sidecar", "healthcheck"), "healthy")

			approve(t, db, ids[0])
			require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) { return approvals(t, db, ids[0]) >= 1, nil }), "audit row")
			mailed := func() int {
				n := 0
				for _, m := range fake.Accepted() {
					if m.CustomArgs["email_type"] == "approval" && strings.Join(m.To, ",") == emails[0] {
						n++
					}
				}
				return n
			}
			require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) { return mailed() >= 1, nil }), "approval email")
			time.Sleep(time.Second) // a repeat would show by now
			require.Equal(t, 1, approvals(t, db, ids[0]), "one audit row for one approval")
			require.Equal(t, 1, mailed(), "one approval email for one approval")
			require.Empty(t, fake.Invalid())
		}

		require.True(t, slotActive(t, db, slot))
		stop := time.Now()
		p.must("kill", "--signal", "TERM", name)
		code := p.must("wait", name)
		// podman wait polls, so the exit time is conmon's record of it.
		finished, err := strconv.ParseInt(p.must("inspect", "--format", "{{.State.FinishedAt.UnixNano}}", name), 10, 64)
		require.NoError(t, err)
		stops = append(stops, time.Unix(0, finished).Sub(stop))
		require.Equal(t, "0", code, "exit code after SIGTERM")
		require.Less(t, stops[i], gracePeriod/3, "SIGTERM to exit, well within the grace period")
		require.NoError(t, sidecartest.WaitFor(ctx, 5*time.Second, func() (bool, error) { return !slotActive(t, db, slot), nil }), "the slot is released")
		p.must("rm", name)
	}
	u, _ := url.Parse(db.URL)
	t.Logf("podman run to /readyz 200 (streaming): %s", spread(starts))
	t.Logf("container started to /readyz 200 (streaming): %s", spread(procStarts))
	t.Logf("SIGTERM (podman kill run) to exit 0 (slot released): %s; grace period %s; database %s", spread(stops), gracePeriod, u.Host)
}
