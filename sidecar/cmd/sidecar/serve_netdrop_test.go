package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/faultproxy"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// netns is a network namespace joined to this host by a veth pair: the sidecar runs
// inside it, and packets between it and the host can really be dropped (iptables
// in the namespace), not just swallowed by a proxy.
type netns struct {
	name           string
	hostIP, nsIP   string
	hostIf, nsSide string
}

func sh(t *testing.T, argv ...string) {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(argv, " "), out)
}

// newNetns makes a namespace with its own /30 (named after the test process, so
// concurrent test runs on one machine do not collide) and removes it at cleanup.
func newNetns(t *testing.T) *netns {
	t.Helper()
	require.Zero(t, os.Geteuid(), "a network namespace needs root (make test runs as root in CI)")
	for _, tool := range []string{"ip", "iptables"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is missing: scripts/test.sh installs iproute2 and iptables", tool)
	}
	pid := os.Getpid()
	n := &netns{
		name:   fmt.Sprintf("sidecar-test-%d", pid),
		hostIf: fmt.Sprintf("sct%dh", pid%1000000),
		nsSide: fmt.Sprintf("sct%dn", pid%1000000),
		hostIP: fmt.Sprintf("10.213.%d.%d", pid%250, 1+4*(pid/250%60)),
	}
	ip := net.ParseIP(n.hostIP).To4()
	n.nsIP = net.IPv4(ip[0], ip[1], ip[2], ip[3]+1).String()
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", n.name).Run()
		_ = exec.Command("ip", "link", "del", n.hostIf).Run()
	})
	sh(t, "ip", "netns", "add", n.name)
	sh(t, "ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsSide)
	sh(t, "ip", "link", "set", n.nsSide, "netns", n.name)
	sh(t, "ip", "addr", "add", n.hostIP+"/30", "dev", n.hostIf)
	sh(t, "ip", "link", "set", n.hostIf, "up")
	sh(t, "ip", "netns", "exec", n.name, "ip", "addr", "add", n.nsIP+"/30", "dev", n.nsSide)
	sh(t, "ip", "netns", "exec", n.name, "ip", "link", "set", n.nsSide, "up")
	sh(t, "ip", "netns", "exec", n.name, "ip", "link", "set", "lo", "up")
	return n
}

// drop makes the namespace drop every packet to and from the host's port (on) or
// lets them through again (off).
func (n *netns) drop(t *testing.T, port string, on bool) {
	t.Helper()
	op := "-A"
	if !on {
		op = "-D"
	}
	sh(t, "ip", "netns", "exec", n.name, "iptables", op, "OUTPUT", "-p", "tcp", "-d", n.hostIP, "--dport", port, "-j", "DROP")
	sh(t, "ip", "netns", "exec", n.name, "iptables", op, "INPUT", "-p", "tcp", "-s", n.hostIP, "--sport", port, "-j", "DROP")
}

// TestPacketDropReplication: the sidecar, in its own network namespace, reaches
// Postgres through a plain forwarder on the host; for 20 s every packet between
// them is dropped (no connection can be opened either), while admins approve
// talents directly. Once the network is back the stream resumes on a new
// connection and every approval is logged and mailed once, within the same bounds
// as the silent proxy's.
func TestPacketDropReplication(t *testing.T) {
	ns := newNetns(t)
	db := testdb.New(t)
	ids := seedTalents(t, db.Pool, 30)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	fwd, err := faultproxy.NewOn(ns.hostIP+":0", u.Host)
	require.NoError(t, err)
	t.Cleanup(fwd.Close)
	fake, err := sendgridfake.NewOn(sendGridKey, ns.hostIP+":0")
	require.NoError(t, err)
	defer fake.Close()
	_, port, _ := net.SplitHostPort(fwd.Addr())
	u.Host = fwd.Addr()
	env := emailEnv(t, db, fake)
	env["DATABASE_URL"] = u.String()
	env["SIDECAR_ADDR"] = ns.nsIP + ":8080"
	p := sidecartest.StartIn(t, ns.name, sidecartest.Binary(t), env)
	require.NoError(t, p.WaitState("streaming", 20*time.Second))

	ctx := context.Background()
	var keys []string
	approve := func(id string) {
		k, err := transition(ctx, db.Pool, id, "approved")
		require.NoError(t, err)
		keys = append(keys, k)
	}
	for _, id := range ids[:10] {
		approve(id)
	}
	ns.drop(t, port, true)
	dropped := time.Now()
	for _, id := range ids[10:] {
		approve(id)
		time.Sleep(150 * time.Millisecond)
	}
	time.Sleep(time.Until(dropped.Add(20 * time.Second)))
	ns.drop(t, port, false)
	t.Logf("packets dropped for %s", time.Since(dropped).Round(100*time.Millisecond))

	waitFreshStream(t, db, dropped, p)
	requireLoggedAndMailedBy(t, db, fake, keys, dropped, dropped.Add(silenceEffectsBound))
}
