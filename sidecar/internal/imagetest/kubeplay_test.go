package imagetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/talent-onboarding/backend/sidecar/internal/emailsend/sendgridfake"
	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// kubeNetwork is the bridge network the played pods join: each pod has its own
// address, so both replicas listen on the manifests' :8080 as in a cluster.
const kubeNetwork = "talent-imagetest"

// takeoverBound is how long the standby may take to stream after the leader dies.
const takeoverBound = 30 * time.Second

// render runs tools/k8scheck (kustomize + strict decoding into Kubernetes types)
// on deploy/k8s and returns the rendered objects.
func render(t testing.TB) []map[string]any {
	t.Helper()
	root := testdb.Root(t)
	out := filepath.Join(t.TempDir(), "rendered.yaml")
	cmd := exec.Command("go", "run", ".", "-dir", filepath.Join(root, "deploy", "k8s"), "-o", out)
	cmd.Dir = filepath.Join(root, "tools", "k8scheck")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "tools/k8scheck:\n%s", b)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err)
		docs = append(docs, d)
	}
}

// obj walks a decoded YAML object along keys (map keys, or list indexes as ints).
func obj(t testing.TB, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "%v: not a map at %q", path, k)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok && k < len(l), "%v: no item %d", path, k)
			v = l[k]
		}
	}
	return v
}

// probeURL is a kubelet's httpGet for a probe of the container: the path, and
// the named port resolved against the container's ports.
func probeURL(t testing.TB, container map[string]any, probe, podIP string) string {
	t.Helper()
	get := obj(t, container, probe, "httpGet").(map[string]any)
	port := fmt.Sprint(get["port"])
	for _, p := range obj(t, container, "ports").([]any) {
		if pm := p.(map[string]any); pm["name"] == port {
			port = fmt.Sprint(pm["containerPort"])
		}
	}
	_, err := strconv.Atoi(port)
	require.NoError(t, err, "%s port %q", probe, port)
	return "http://" + net.JoinHostPort(podIP, port) + get["path"].(string)
}

// TestKubePlayDeployment plays the rendered Deployment and ConfigMap of deploy/k8s
// with `podman kube play`: two replicas start from the loaded image with env from
// the ConfigMap and a Secret, non-root on a read-only root; the kubelet's probes
// pass on each pod; exactly one streams; killing it hands the slot to the other
// within takeoverBound, and approvals made before and after the kill are each
// audited and mailed once.
//
// What podman 4.3 (Debian 12) needs that a cluster does not, each applied to a copy
// of the rendered YAML, never to deploy/k8s:
//   - containerPort is published on the host's same port (a cluster never does
//     that), so two replicas collide on 8080: the copy drops `ports`, and the test
//     probes each pod's own address on the port the manifest names.
//   - probes become a `curl` command in the container (there is no curl; the named
//     port is not resolved) run by systemd timers (none here): the test makes the
//     kubelet's GETs itself.
//   - a Secret document is stored as YAML and then refused ("not valid JSON"): the
//     Secret is created with `podman secret create`, as the JSON map of base64
//     values podman reads.
//   - the pods are on a bridge network, where 127.0.0.1 is the pod's own: the
//     database and the SendGrid fake are reached through forwarders on the host
//     that accept only the network's addresses.
func TestKubePlayDeployment(t *testing.T) {
	ctx := context.Background()
	p := newPodman(t)
	image := loadImage(t, p)

	var cm, deploy map[string]any
	var left []string
	for _, d := range render(t) {
		switch d["kind"] {
		case "ConfigMap":
			cm = d
		case "Deployment":
			deploy = d
		default:
			left = append(left, d["kind"].(string))
		}
	}
	require.NotNil(t, cm)
	require.NotNil(t, deploy)
	t.Logf("playing the ConfigMap and the Deployment; not for podman: %s", strings.Join(left, ", "))
	require.Equal(t, 2, obj(t, deploy, "spec", "replicas"))
	pod := obj(t, deploy, "spec", "template", "spec").(map[string]any)
	require.Len(t, pod["containers"], 1)
	container := obj(t, pod, "containers", 0).(map[string]any)
	require.Equal(t, image, container["image"], "the kustomization's image is the one make image tags")

	// The network, and the host's services reachable from it.
	if _, err := p.run("network", "exists", kubeNetwork); err != nil {
		p.must("network", "create", kubeNetwork)
	}
	subnet := p.must("network", "inspect", "--format", "{{range .Subnets}}{{.Subnet}} {{.Gateway}}{{end}}", kubeNetwork)
	f := strings.Fields(subnet)
	require.Len(t, f, 2, "one IPv4 subnet and its gateway: %q", subnet)
	_, allowed, err := net.ParseCIDR(f[0])
	require.NoError(t, err)
	gateway := f[1]

	db := testdb.New(t)
	fake := sendgridfake.New(sendGridKey)
	defer fake.Close()
	ids, emails := submittedTalents(t, db, 2)
	dbURL, err := url.Parse(db.URL)
	require.NoError(t, err)
	dbURL.Host = net.JoinHostPort(gateway, strconv.Itoa(forward(t, allowed, dbURL.Host)))
	fakeURL := "http://" + net.JoinHostPort(gateway, strconv.Itoa(forward(t, allowed, fake.Listener.Addr().String())))

	// ConfigMap: this test's slot (slot names are cluster-wide) and the fake.
	data := cm["data"].(map[string]any)
	data["REPLICATION_SLOT"] = db.Name
	data["SENDGRID_BASE_URL"] = fakeURL

	// The Secret every secretKeyRef names.
	secretName := ""
	for _, e := range container["env"].([]any) {
		if ref, ok := obj(t, e, "valueFrom").(map[string]any)["secretKeyRef"].(map[string]any); ok {
			require.True(t, secretName == "" || secretName == ref["name"], "one Secret")
			secretName = ref["name"].(string)
		}
	}
	secret := map[string]string{}
	for k, v := range map[string]string{
		"DATABASE_URL":              dbURL.String(),
		"WEBHOOK_SECRET":            "imagetest-secret-0123456789",
		"SENDGRID_API_KEY":          sendGridKey,
		"SUPABASE_SERVICE_ROLE_KEY": "imagetest-service-role-key",
	} {
		secret[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret.json")
	b, err := json.Marshal(secret)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(secretFile, b, 0o600))
	_, _ = p.run("secret", "rm", secretName)
	p.must("secret", "create", secretName, secretFile)
	t.Cleanup(func() { _, _ = p.run("secret", "rm", secretName) })

	// The copy without ports (see above); the probes still resolve against the
	// manifest's container.
	played := map[string]any{}
	for k, v := range container {
		if k != "ports" {
			played[k] = v
		}
	}
	pod["containers"] = []any{played}
	var doc bytes.Buffer
	enc := yaml.NewEncoder(&doc)
	require.NoError(t, enc.Encode(cm))
	require.NoError(t, enc.Encode(deploy))
	require.NoError(t, enc.Close())
	playFile := filepath.Join(dir, "play.yaml")
	require.NoError(t, os.WriteFile(playFile, doc.Bytes(), 0o644))

	name := obj(t, deploy, "metadata", "name").(string)
	pods := []string{name + "-pod-0", name + "-pod-1"}
	ctrs := []string{pods[0] + "-" + container["name"].(string), pods[1] + "-" + container["name"].(string)}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range ctrs {
				logs, _ := p.run("logs", c)
				t.Logf("%s output:\n%s", c, logs)
			}
		}
		_, _ = p.run("kube", "down", playFile)
		for _, v := range pod["volumes"].([]any) {
			_, _ = p.run("volume", "rm", "-f", v.(map[string]any)["name"].(string))
		}
	})
	played0 := time.Now()
	p.must("kube", "play", "--replace", "--network", kubeNetwork, playFile)
	require.ElementsMatch(t, pods, strings.Fields(p.must("pod", "ps", "--filter", "name=^"+name+"-pod-", "--format", "{{.Name}}")))

	ips := map[string]string{}
	for i, pd := range pods {
		infra := p.must("pod", "inspect", "--format", "{{.InfraContainerID}}", pd)
		ips[ctrs[i]] = p.must("inspect", "--format", `{{(index .NetworkSettings.Networks "`+kubeNetwork+`").IPAddress}}`, infra)
	}
	// The kubelet's part: startup, then liveness and readiness, on each pod.
	for _, c := range ctrs {
		for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
			u := probeURL(t, container, probe, ips[c])
			require.NoError(t, sidecartest.WaitFor(ctx, 60*time.Second, func() (bool, error) {
				resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(u)
				if err != nil {
					return false, nil
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK, nil
			}), "%s %s: 200", c, probe)
		}
		requireHardened(t, p, c)
		env := p.must("inspect", "--format", `{{range .Config.Env}}{{println .}}{{end}}`, c)
		require.Contains(t, env, "REPLICATION_SLOT="+db.Name+"\n", "%s: env from the ConfigMap", c)
		require.Contains(t, env, "DATABASE_URL="+dbURL.String()+"\n", "%s: env from the Secret", c)
	}
	t.Logf("kube play to both pods ready: %s", time.Since(played0).Round(time.Millisecond))

	// Exactly one streams.
	// The readiness probe's URL less its path: the pod's address and the named port.
	base := func(c string) string {
		u := probeURL(t, container, "readinessProbe", ips[c])
		return strings.TrimSuffix(u, obj(t, container, "readinessProbe", "httpGet", "path").(string))
	}
	leader, standby := "", ""
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		_, s0 := sidecartest.ReadyAt(base(ctrs[0]))
		_, s1 := sidecartest.ReadyAt(base(ctrs[1]))
		switch {
		case s0 == "streaming" && s1 == "standby":
			leader, standby = ctrs[0], ctrs[1]
		case s1 == "streaming" && s0 == "standby":
			leader, standby = ctrs[1], ctrs[0]
		default:
			return false, nil
		}
		return true, nil
	}), "one pod streaming, the other standby")
	require.True(t, slotActive(t, db, db.Name), "the ConfigMap's slot is streamed")

	approve(t, db, ids[0])
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) { return approvals(t, db, ids[0]) >= 1, nil }), "audit row before the kill")

	killed := time.Now()
	p.must("kill", "--signal", "KILL", leader)
	approve(t, db, ids[1])
	require.NoError(t, sidecartest.WaitReadyAt(base(standby), "streaming", takeoverBound), "the standby takes over")
	t.Logf("%s killed; %s streaming after %s", leader, standby, time.Since(killed).Round(time.Millisecond))
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) { return approvals(t, db, ids[1]) >= 1, nil }), "audit row after the kill")

	mailed := func(to string) int {
		n := 0
		for _, m := range fake.Accepted() {
			if m.CustomArgs["email_type"] == "approval" && strings.Join(m.To, ",") == to {
				n++
			}
		}
		return n
	}
	require.NoError(t, sidecartest.WaitFor(ctx, 30*time.Second, func() (bool, error) { return mailed(emails[0]) >= 1 && mailed(emails[1]) >= 1, nil }), "approval emails")
	time.Sleep(time.Second) // a repeat would show by now
	for i := range ids {
		require.Equal(t, 1, approvals(t, db, ids[i]), "talent %d: one audit row", i)
		require.Equal(t, 1, mailed(emails[i]), "talent %d: one approval email", i)
	}
	require.Empty(t, fake.Invalid())

	p.must("kube", "down", playFile)
	require.Empty(t, p.must("pod", "ps", "-q", "--filter", "name=^"+name+"-pod-"), "kube down removed the pods")
}
