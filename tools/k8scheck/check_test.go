package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const shipped = "../../deploy/k8s"

// copyManifests copies deploy/k8s and deploy/prometheus into a temporary deploy/
// and applies edits (file relative to k8s/ -> old -> new, each old must occur
// exactly once), so every test breaks the real files in one place. It returns the
// copy of k8s/.
func copyManifests(t *testing.T, edits ...[3]string) string {
	t.Helper()
	root := t.TempDir()
	for _, sub := range []string{"k8s", "prometheus"} {
		files, err := filepath.Glob(filepath.Join(shipped, "..", sub, "*.y*ml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files in deploy/%s: %v", sub, err)
		}
		if err := os.Mkdir(filepath.Join(root, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, sub, filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := filepath.Join(root, "k8s")
	for _, e := range edits {
		p := filepath.Join(dir, e[0])
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), e[1]); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once (the test no longer matches the manifest)", e[0], e[1], n)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), e[1], e[2], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCLI runs the command as `go run . -dir DIR -o FILE` would.
func runCLI(t *testing.T, dir string) (code int, stderr string, out string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rendered.yaml")
	var so, se bytes.Buffer
	code = run([]string{"-dir", dir, "-o", file}, &so, &se)
	b, err := os.ReadFile(file)
	if err == nil {
		out = string(b)
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return code, se.String(), out
}

func TestShippedManifestsAreValid(t *testing.T) {
	code, stderr, out := runCLI(t, shipped)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{"kind: ConfigMap", "kind: Deployment", "kind: Service\n", "kind: PodDisruptionBudget", "kind: ServiceMonitor",
		"kind: PrometheusRule", "alert: SidecarDown",
		"image: registry.example.com/talent-sidecar:0.1.0", "app.kubernetes.io/part-of: talent-onboarding"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered output lacks %q", want)
		}
	}
	if strings.Contains(out, "kind: Secret") {
		t.Error("the example Secret is in the output without -with-secret")
	}
}

func TestWithSecretAppendsTheExample(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out.yaml")
	var so, se bytes.Buffer
	if code := run([]string{"-dir", shipped, "-o", file, "-with-secret"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), "---\n") || !strings.Contains(string(b), "kind: Secret") {
		t.Fatalf("no Secret document in:\n%s", b)
	}
}

// Each case breaks one thing; the run must fail, write nothing, and say which
// object and which field.
func TestBrokenManifestsFail(t *testing.T) {
	cases := []struct {
		name  string
		edit  [3]string
		wants []string
	}{
		{"typo'd field name",
			[3]string{"deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
			[]string{"Deployment talent-sidecar", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`}},
		{"wrong type",
			[3]string{"deployment.yaml", "replicas: 2", `replicas: "two"`},
			[]string{"Deployment talent-sidecar", "spec.replicas", "int32"}},
		{"missing container image",
			[3]string{"deployment.yaml", "          image: talent-sidecar\n", ""},
			[]string{"Deployment talent-sidecar", "spec.template.spec.containers[0](sidecar).image: missing"}},
		{"bad probe port",
			[3]string{"deployment.yaml", "httpGet: {path: /readyz, port: http}", "httpGet: {path: /readyz, port: htpp}"},
			[]string{"Deployment talent-sidecar", "readinessProbe.httpGet.port", `"htpp" is not a named port`}},
		{"probe port number not exposed",
			[3]string{"deployment.yaml", "httpGet: {path: /readyz, port: http}", "httpGet: {path: /readyz, port: 9090}"},
			[]string{"readinessProbe.httpGet.port", "9090 is not one of the container's ports"}},
		{"unnamed container port",
			[3]string{"deployment.yaml", "            - name: http\n              containerPort: 8080", "            - containerPort: 8080"},
			[]string{"containers[0](sidecar).ports[0].name: missing"}},
		{"port name too long",
			[3]string{"deployment.yaml", "            - name: http\n", "            - name: http-for-the-sidecar\n"},
			[]string{"ports[0].name", "must be no more than 15 characters"}},
		{"env key missing from the ConfigMap",
			[3]string{"configmap.yaml", "  LOG_LEVEL: info\n", ""},
			[]string{"env[", "(LOG_LEVEL).valueFrom.configMapKeyRef.key", `ConfigMap "talent-sidecar-config" has no key "LOG_LEVEL"`}},
		{"env key missing from the example Secret",
			[3]string{"secret.example.yaml", "  SMTP_URL: \"\"\n", ""},
			[]string{"(SMTP_URL).valueFrom.secretKeyRef.key", `Secret "talent-sidecar" has no key "SMTP_URL"`}},
		{"env names a ConfigMap that is not rendered",
			[3]string{"configmap.yaml", "name: talent-sidecar-config", "name: talent-sidecar-settings"},
			[]string{`no ConfigMap "talent-sidecar-config" is rendered`}},
		{"selector does not match the template",
			[3]string{"deployment.yaml", "    matchLabels:\n      app.kubernetes.io/name: talent-sidecar\n  strategy:", "    matchLabels:\n      app.kubernetes.io/name: talent-sidecars\n  strategy:"},
			[]string{"Deployment talent-sidecar: spec.selector", "does not match spec.template.metadata.labels"}},
		{"Service selects nothing",
			[3]string{"service.yaml", "  selector:\n    app.kubernetes.io/name: talent-sidecar", "  selector:\n    app.kubernetes.io/name: talent"},
			[]string{"Service talent-sidecar: spec.selector", "selects no workload's pods"}},
		{"Service targetPort not a container port",
			[3]string{"service.yaml", "targetPort: http", "targetPort: web"},
			[]string{"Service talent-sidecar: spec.ports[0].targetPort", `"web" is not a named port`}},
		{"ServiceMonitor scrapes a port the Service lacks",
			[3]string{"servicemonitor.yaml", "- port: http", "- port: metrics"},
			[]string{"ServiceMonitor talent-sidecar: spec.endpoints[0].port", `no port named "metrics"`}},
		{"ServiceMonitor typo",
			[3]string{"servicemonitor.yaml", "scrapeTimeout: 10s", "scrapeTimout: 10s"},
			[]string{"ServiceMonitor talent-sidecar", `unknown field "spec.endpoints[0].scrapeTimout"`}},
		{"apiVersion the release no longer serves",
			[3]string{"pdb.yaml", "apiVersion: policy/v1", "apiVersion: policy/v1beta1"},
			[]string{"PodDisruptionBudget talent-sidecar", "policy/v1beta1"}},
		{"quantity that does not parse",
			[3]string{"deployment.yaml", "memory: 64Mi", "memory: 64 MB"},
			[]string{"Deployment talent-sidecar", "quantities must match"}},
		{"rules file changed, PrometheusRule not regenerated",
			[3]string{"../prometheus/talent-sidecar.rules.yml", "> 256 * 1024 * 1024", "> 512 * 1024 * 1024"},
			[]string{"PrometheusRule talent-sidecar: spec.groups", `rule [1] (SidecarSlotLagHigh) differs`, "-write-prometheusrule"}},
		{"PrometheusRule typo",
			[3]string{"prometheusrule.yaml", "      rules:\n        - alert: SidecarDown", "      rulez:\n        - alert: SidecarDown"},
			[]string{"PrometheusRule talent-sidecar", `unknown field "spec.groups[0].rulez"`}},
		{"PrometheusRule rule with neither alert nor record",
			[3]string{"prometheusrule.yaml", "        - alert: SidecarDown\n          expr:", "        - expr:"},
			[]string{"PrometheusRule talent-sidecar: spec.groups[0].rules[0]: exactly one of alert and record"}},
		{"rules file typo",
			[3]string{"../prometheus/talent-sidecar.rules.yml", "    annotations:\n          summary: No talent", "    anotations:\n          summary: No talent"},
			[]string{"talent-sidecar.rules.yml", `unknown field "anotations"`}},
		{"volume mount without a volume",
			[3]string{"deployment.yaml", "            - name: tmp\n              mountPath: /tmp", "            - name: scratch\n              mountPath: /tmp"},
			[]string{"volumeMounts[0].name", `no volume "scratch"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr, out := runCLI(t, copyManifests(t, tc.edit))
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			if out != "" {
				t.Error("output written although the check failed")
			}
			for _, w := range tc.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// A kustomization that does not build (a resource that does not exist) is an
// error too, not an empty success.
func TestRenderErrorFails(t *testing.T) {
	// A key given twice: kustomize refuses it; the message names the file.
	dup := copyManifests(t, [3]string{"pdb.yaml", "  minAvailable: 1\n", "  minAvailable: 1\n  minAvailable: 2\n"})
	code, stderr, out := runCLI(t, dup)
	if code != 1 || out != "" || !strings.Contains(stderr, "pdb.yaml (document 1)") || !strings.Contains(stderr, `"minAvailable" already set`) {
		t.Fatalf("duplicate key: exit %d, stderr:\n%s", code, stderr)
	}

	dir := copyManifests(t, [3]string{"kustomization.yaml", "  - pdb.yaml\n", "  - pdb.yaml\n  - missing.yaml\n"})
	code, stderr, _ = runCLI(t, dir)
	if code != 1 || !strings.Contains(stderr, "missing.yaml") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// prometheusrule.yaml says it is generated: it must be exactly what the generator
// writes today.
func TestPrometheusRuleIsGenerated(t *testing.T) {
	want, err := prometheusRuleYAML(filepath.Join(shipped, "../prometheus/talent-sidecar.rules.yml"), "deploy/prometheus/talent-sidecar.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(shipped, prometheusRuleFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("deploy/k8s/%s is not what -write-prometheusrule writes: run `cd tools/k8scheck && go run . -write-prometheusrule`", prometheusRuleFile)
	}
	// and the generator's round trip through the check agrees
	dir := copyManifests(t)
	var so, se bytes.Buffer
	if code := run([]string{"-dir", dir, "-write-prometheusrule"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if code, stderr, _ := runCLI(t, dir); code != 0 {
		t.Fatalf("exit %d after regenerating: %s", code, stderr)
	}
}
