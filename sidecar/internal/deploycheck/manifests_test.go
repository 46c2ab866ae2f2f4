package deploycheck

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/talent-onboarding/backend/sidecar/internal/config"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// Only the fields the checks read.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		Ports []struct {
			Name string `yaml:"name"`
		} `yaml:"ports"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
	Resources []string `yaml:"resources"`
}

type container struct {
	EnvFrom []any `yaml:"envFrom"`
	Env     []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
			ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             bool  `yaml:"runAsNonRoot"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type keyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

func k8sDir(t *testing.T) string { return filepath.Join(testdb.Root(t), "deploy", "k8s") }

func load(t *testing.T, file string) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sDir(t), file))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	var m manifest
	require.NoError(t, dec.Decode(&m), file)
	var extra manifest
	require.ErrorIs(t, dec.Decode(&extra), io.EOF, "%s: one document per file", file)
	return m
}

// configEnvNames is the full set of variables the sidecar reads (config.Vars reads
// the struct's env tags).
func configEnvNames(t *testing.T) []string {
	var names []string
	for _, v := range config.Vars() {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	require.NotEmpty(t, names)
	return names
}

func sidecarContainer(t *testing.T, d manifest) container {
	require.Equal(t, "Deployment", d.Kind)
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d.Spec.Template.Spec.Containers[0]
}

// The Deployment names exactly the config's variables: none missing (it would run
// on a default ops did not choose), none extra (a typo the sidecar never reads).
func TestDeploymentEnvMatchesConfig(t *testing.T) {
	c := sidecarContainer(t, load(t, "deployment.yaml"))
	require.Empty(t, c.EnvFrom, "use explicit env entries so names can be checked")
	var names []string
	seen := map[string]bool{}
	for _, e := range c.Env {
		require.False(t, seen[e.Name], "%s listed twice", e.Name)
		seen[e.Name] = true
		names = append(names, e.Name)
	}
	sort.Strings(names)
	require.Equal(t, configEnvNames(t), names)
}

// Secrets come from the Secret, the rest from the ConfigMap, and every key of
// either is used. That every key referenced exists (in the rendered ConfigMap and in
// secret.example.yaml) is checked by tools/k8scheck on the typed objects, for every
// container and every env source, so it is no longer repeated here.
func TestEnvReferencesResolve(t *testing.T) {
	c := sidecarContainer(t, load(t, "deployment.yaml"))
	cm := load(t, "configmap.yaml")
	secret := load(t, "secret.example.yaml")
	require.Equal(t, "ConfigMap", cm.Kind)
	require.Equal(t, "Secret", secret.Kind)

	secretNames := map[string]bool{"DATABASE_URL": true, "WEBHOOK_SECRET": true, "SENDGRID_API_KEY": true,
		"SMTP_URL": true, "SENDGRID_WEBHOOK_PUBLIC_KEY": true, "SUPABASE_SERVICE_ROLE_KEY": true}
	usedCM := map[string]bool{}
	usedSecret := map[string]bool{}
	for _, e := range c.Env {
		require.Nil(t, e.Value, "%s: take every value from the ConfigMap or the Secret", e.Name)
		require.NotNil(t, e.ValueFrom, e.Name)
		switch ref := e.ValueFrom; {
		case ref.SecretKeyRef != nil:
			require.True(t, secretNames[e.Name], "%s is not a secret: put it in the ConfigMap", e.Name)
			require.Equal(t, secret.Metadata.Name, ref.SecretKeyRef.Name, e.Name)
			usedSecret[ref.SecretKeyRef.Key] = true
		case ref.ConfigMapKeyRef != nil:
			require.False(t, secretNames[e.Name], "%s is a secret: take it from the Secret", e.Name)
			require.Equal(t, cm.Metadata.Name, ref.ConfigMapKeyRef.Name, e.Name)
			usedCM[ref.ConfigMapKeyRef.Key] = true
		default:
			t.Fatalf("%s: valueFrom must be a secretKeyRef or configMapKeyRef", e.Name)
		}
	}
	for k := range cm.Data {
		require.True(t, usedCM[k], "configmap.yaml key %s is not used by the Deployment", k)
	}
	for k := range secret.StringData {
		require.True(t, usedSecret[k], "secret.example.yaml key %s is not used by the Deployment", k)
	}
}

// The shipped ConfigMap with the example Secret is a configuration the sidecar
// accepts, so a fresh deploy fails only on the placeholders ops must replace.
func TestShippedValuesValidate(t *testing.T) {
	c := sidecarContainer(t, load(t, "deployment.yaml"))
	cm := load(t, "configmap.yaml")
	secret := load(t, "secret.example.yaml")
	env := map[string]string{}
	for _, e := range c.Env {
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			env[e.Name] = secret.StringData[r.Key]
		} else {
			env[e.Name] = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
		}
	}
	_, err := config.Load(context.Background(), envconfig.MapLookuper(env))
	require.NoError(t, err)

	// And the check is not vacuous: a bad shipped value is caught.
	env["BATCH_SIZE"] = "0"
	_, err = config.Load(context.Background(), envconfig.MapLookuper(env))
	require.ErrorContains(t, err, "BATCH_SIZE")
}

func TestDeploymentShape(t *testing.T) {
	d := load(t, "deployment.yaml")
	c := sidecarContainer(t, d)
	require.NotNil(t, d.Spec.Replicas)
	require.Equal(t, 2, *d.Spec.Replicas, "one streams, one stands by")
	require.NotNil(t, c.LivenessProbe)
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.NotNil(t, c.ReadinessProbe)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Len(t, c.Ports, 1)
	require.Equal(t, "http", c.Ports[0].Name)

	cm := load(t, "configmap.yaml")
	require.True(t, strings.HasSuffix(cm.Data["SIDECAR_ADDR"], ":8080"), "SIDECAR_ADDR must match containerPort")
	require.Equal(t, 8080, c.Ports[0].ContainerPort)

	require.NotEmpty(t, c.Resources.Requests["cpu"])
	require.NotEmpty(t, c.Resources.Requests["memory"])
	require.NotEmpty(t, c.Resources.Limits["memory"])
	require.True(t, c.SecurityContext.ReadOnlyRootFilesystem)
	require.True(t, c.SecurityContext.RunAsNonRoot)
	require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
	require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	require.Equal(t, []string{"ALL"}, c.SecurityContext.Capabilities.Drop)

	svc := load(t, "service.yaml")
	require.Equal(t, "http", svc.Spec.Ports[0].Name)
	sm := load(t, "servicemonitor.yaml")
	require.Equal(t, "ServiceMonitor", sm.Kind)
	require.Equal(t, "http", sm.Spec.Endpoints[0].Port)
	require.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
}

// kustomization.yaml lists every manifest but the Secret example, and each exists.
func TestKustomizationResources(t *testing.T) {
	k := load(t, "kustomization.yaml")
	files, err := filepath.Glob(filepath.Join(k8sDir(t), "*.yaml"))
	require.NoError(t, err)
	var want []string
	for _, f := range files {
		switch b := filepath.Base(f); b {
		case "kustomization.yaml", "secret.example.yaml":
		default:
			want = append(want, b)
		}
	}
	got := append([]string(nil), k.Resources...)
	sort.Strings(got)
	require.Equal(t, want, got)
}

// The image is the host-built static binary on an empty base: nothing to pull, one
// user, and the health check is the binary's own subcommand (there is no curl). The
// port it exposes is the ConfigMap's. The build flags live in scripts/image.sh.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testdb.Root(t), "deploy", "Containerfile"))
	require.NoError(t, err)
	s := string(b)
	require.Equal(t, []string{"FROM scratch"}, regexp.MustCompile(`(?m)^FROM .*$`).FindAllString(s, -1))
	require.Regexp(t, regexp.MustCompile(`(?m)^HEALTHCHECK .*\n?.*CMD \["/sidecar", "healthcheck"\]`), s)
	require.Regexp(t, regexp.MustCompile(`(?m)^EXPOSE 8080$`), s)
	require.Regexp(t, regexp.MustCompile(`(?m)^USER 65532:65532$`), s)
	require.NotRegexp(t, regexp.MustCompile(`(?m)^RUN `), s, "scratch has no shell to RUN in")

	b, err = os.ReadFile(filepath.Join(testdb.Root(t), "scripts", "image.sh"))
	require.NoError(t, err)
	s = string(b)
	require.Contains(t, s, "CGO_ENABLED=0")
	require.Contains(t, s, "-trimpath")
	require.Contains(t, s, "./sidecar/cmd/sidecar")
	require.Contains(t, s, "--format docker ", "OCI image configs drop HEALTHCHECK")
	require.Contains(t, s, "--format docker-archive")
}
