package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// KubernetesRelease is the API the objects are decoded into: k8s.io/api v0.37.x is
// Kubernetes 1.37. Keep it in step with go.mod.
const KubernetesRelease = "1.37 (k8s.io/api v0.37.2)"

// The kinds a manifest may use. Only GA groups of the release and the Prometheus
// Operator's monitoring.coreos.com/v1: an apiVersion the release no longer serves
// (policy/v1beta1, say) is "not registered" and fails like a typo does.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		policyv1.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// Object is one rendered document, decoded.
type Object struct {
	Kind, Name string
	Obj        runtime.Object
}

func (o Object) String() string { return o.Kind + " " + o.Name }

// Result is what Check found: the rendered YAML (every document, as kustomize
// wrote it) and the problems, each naming the object and the field.
type Result struct {
	YAML     []byte
	Objects  []Object
	Problems []string
}

// Check renders dir with kustomize, decodes every object strictly into the typed
// API, and runs the cross-object checks. secretExample (a file, may be "") is the
// example Secret the Deployment's secretKeyRefs are checked against; it is not part
// of the kustomization because the real one is created out of band.
// An error is returned only when rendering itself fails.
// rules (a plain Prometheus rules file, may be "") is what the rendered
// PrometheusRule must carry.
func Check(dir, secretExample, rules string) (*Result, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w%s", dir, err, whichFile(dir))
	}
	out, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w%s", dir, err, whichFile(dir))
	}
	r := &Result{YAML: out}
	dec := serializer.NewCodecFactory(newScheme(), serializer.EnableStrict).UniversalDeserializer()
	for _, res := range rm.Resources() {
		id := res.GetKind() + " " + res.GetName()
		js, err := res.MarshalJSON()
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		obj, _, err := dec.Decode(js, nil, nil)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %s", id, decodeMessage(err)))
			continue
		}
		r.Objects = append(r.Objects, Object{Kind: res.GetKind(), Name: res.GetName(), Obj: obj})
	}
	var secret *corev1.Secret
	if secretExample != "" {
		b, err := os.ReadFile(secretExample)
		if err != nil {
			return nil, err
		}
		obj, _, err := dec.Decode(b, nil, nil)
		switch s, ok := obj.(*corev1.Secret); {
		case err != nil:
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %s", filepath.Base(secretExample), decodeMessage(err)))
		case !ok:
			r.Problems = append(r.Problems, fmt.Sprintf("%s: want a v1 Secret, got %T", filepath.Base(secretExample), obj))
		default:
			secret = s
		}
	}
	if len(r.Problems) == 0 {
		r.Problems = crossCheck(r.Objects, secret)
	}
	if rules != "" && len(r.Problems) == 0 {
		r.Problems = checkRules(r.Objects, rules, dir)
	}
	return r, nil
}

// decodeMessage keeps the decoder's words (they carry the field path: `unknown field
// "spec.replicaz"`, `cannot unmarshal string into Go struct field
// DeploymentSpec.spec.replicas of type int32`) on one line.
func decodeMessage(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// podTemplate is a workload's pod template, and where it sits in the object.
type podTemplate struct {
	owner Object
	path  string
	tmpl  *corev1.PodTemplateSpec
}

type checker struct {
	problems   []string
	configMaps map[string]map[string]bool // name -> keys
	secrets    map[string]map[string]bool
	templates  []podTemplate
	services   []*corev1.Service
}

func (c *checker) addf(o fmt.Stringer, field, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: %s: %s", o, field, fmt.Sprintf(format, args...)))
}

// The "required" of the API reference is not something decoding enforces (a
// missing field decodes as its zero value), so the fields that matter here are
// checked explicitly, with the API server's own name rules where it has them.
func crossCheck(objs []Object, secret *corev1.Secret) []string {
	c := &checker{configMaps: map[string]map[string]bool{}, secrets: map[string]map[string]bool{}}
	keys := func(m ...any) map[string]bool {
		out := map[string]bool{}
		for _, x := range m {
			switch x := x.(type) {
			case map[string]string:
				for k := range x {
					out[k] = true
				}
			case map[string][]byte:
				for k := range x {
					out[k] = true
				}
			}
		}
		return out
	}
	if secret != nil {
		c.secrets[secret.Name] = keys(secret.Data, secret.StringData)
	}
	for _, o := range objs {
		meta, err := metaOf(o.Obj)
		if err != nil {
			c.addf(o, "metadata", "%v", err)
			continue
		}
		if meta.GetName() == "" {
			c.addf(o, "metadata.name", "missing")
		}
		for _, msg := range validation.IsDNS1123Subdomain(meta.GetName()) {
			c.addf(o, "metadata.name", "%s", msg)
		}
		c.checkLabels(o, "metadata.labels", meta.GetLabels())
		switch x := o.Obj.(type) {
		case *corev1.ConfigMap:
			c.configMaps[x.Name] = keys(x.Data, x.BinaryData)
		case *corev1.Secret:
			c.secrets[x.Name] = keys(x.Data, x.StringData)
		case *appsv1.Deployment:
			c.workload(o, x.Spec.Selector, &x.Spec.Template)
			if x.Spec.Replicas != nil && *x.Spec.Replicas < 0 {
				c.addf(o, "spec.replicas", "negative")
			}
			if p := x.Spec.Template.Spec.RestartPolicy; p != "" && p != corev1.RestartPolicyAlways {
				c.addf(o, "spec.template.spec.restartPolicy", "a Deployment's pods must restart Always, not %s", p)
			}
		case *appsv1.StatefulSet:
			c.workload(o, x.Spec.Selector, &x.Spec.Template)
		case *appsv1.DaemonSet:
			c.workload(o, x.Spec.Selector, &x.Spec.Template)
		case *batchv1.Job:
			c.templates = append(c.templates, podTemplate{o, "spec.template", &x.Spec.Template})
		case *batchv1.CronJob:
			c.templates = append(c.templates, podTemplate{o, "spec.jobTemplate.spec.template", &x.Spec.JobTemplate.Spec.Template})
		case *corev1.Service:
			c.services = append(c.services, x)
		}
	}
	for _, t := range c.templates {
		c.podSpec(t)
	}
	for _, o := range objs {
		switch x := o.Obj.(type) {
		case *corev1.Service:
			c.service(o, x)
		case *policyv1.PodDisruptionBudget:
			if x.Spec.MinAvailable != nil && x.Spec.MaxUnavailable != nil {
				c.addf(o, "spec", "minAvailable and maxUnavailable are exclusive")
			}
			if x.Spec.Selector == nil {
				c.addf(o, "spec.selector", "missing")
			} else if len(c.selectedTemplates(o, "spec.selector", x.Spec.Selector)) == 0 {
				c.addf(o, "spec.selector", "selects no workload's pods")
			}
		case *monitoringv1.ServiceMonitor:
			c.serviceMonitor(o, x)
		case *monitoringv1.PrometheusRule:
			c.prometheusRule(o, x)
		}
	}
	return c.problems
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

func (c *checker) checkLabels(o fmt.Stringer, field string, l map[string]string) {
	for k, v := range l {
		for _, msg := range validation.IsQualifiedName(k) {
			c.addf(o, field, "key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			c.addf(o, field+"."+k, "%s", msg)
		}
	}
}

func (c *checker) workload(o Object, sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec) {
	c.templates = append(c.templates, podTemplate{o, "spec.template", tmpl})
	c.checkLabels(o, "spec.template.metadata.labels", tmpl.Labels)
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		c.addf(o, "spec.selector", "missing or empty (required, and it must match the pod template's labels)")
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		c.addf(o, "spec.selector", "%v", err)
		return
	}
	if !s.Matches(labels.Set(tmpl.Labels)) {
		c.addf(o, "spec.selector", "%s does not match spec.template.metadata.labels %v", s, tmpl.Labels)
	}
}

func (c *checker) podSpec(t podTemplate) {
	o, spec := t.owner, &t.tmpl.Spec
	base := t.path + ".spec"
	volumes := map[string]bool{}
	for i, v := range spec.Volumes {
		f := fmt.Sprintf("%s.volumes[%d]", base, i)
		if v.Name == "" {
			c.addf(o, f+".name", "missing")
		}
		if volumes[v.Name] {
			c.addf(o, f+".name", "%q declared twice", v.Name)
		}
		volumes[v.Name] = true
		if v.ConfigMap != nil && c.configMaps[v.ConfigMap.Name] == nil && !isTrue(v.ConfigMap.Optional) {
			c.addf(o, f+".configMap.name", "no ConfigMap %q is rendered", v.ConfigMap.Name)
		}
	}
	if len(spec.Containers) == 0 {
		c.addf(o, base+".containers", "missing (at least one container is required)")
	}
	names := map[string]bool{}
	all := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for i := range all {
		ct := &all[i]
		f := fmt.Sprintf("%s.containers[%d]", base, i-len(spec.InitContainers))
		if i < len(spec.InitContainers) {
			f = fmt.Sprintf("%s.initContainers[%d]", base, i)
		}
		if ct.Name == "" {
			c.addf(o, f+".name", "missing")
		} else {
			for _, msg := range validation.IsDNS1123Label(ct.Name) {
				c.addf(o, f+".name", "%s", msg)
			}
			f = fmt.Sprintf("%s(%s)", f, ct.Name)
		}
		if names[ct.Name] {
			c.addf(o, f+".name", "two containers are named %q", ct.Name)
		}
		names[ct.Name] = true
		if strings.TrimSpace(ct.Image) == "" {
			c.addf(o, f+".image", "missing (required)")
		}
		c.container(o, f, ct, volumes)
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func (c *checker) container(o Object, f string, ct *corev1.Container, volumes map[string]bool) {
	ports := map[string]int32{}
	numbers := map[int32]bool{}
	for i, p := range ct.Ports {
		pf := fmt.Sprintf("%s.ports[%d]", f, i)
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			c.addf(o, pf+".containerPort", "%d is not a port (1-65535; required)", p.ContainerPort)
		}
		if p.Name == "" {
			c.addf(o, pf+".name", "missing: name every port, probes and the Service refer to it by name")
		} else {
			for _, msg := range validation.IsValidPortName(p.Name) {
				c.addf(o, pf+".name", "%q: %s", p.Name, msg)
			}
			if _, dup := ports[p.Name]; dup {
				c.addf(o, pf+".name", "%q used twice", p.Name)
			}
			ports[p.Name] = p.ContainerPort
		}
		numbers[p.ContainerPort] = true
	}
	for name, pr := range map[string]*corev1.Probe{
		"startupProbe": ct.StartupProbe, "livenessProbe": ct.LivenessProbe, "readinessProbe": ct.ReadinessProbe,
	} {
		if pr == nil {
			continue
		}
		pf := f + "." + name
		n := 0
		var port *intstr.IntOrString
		if pr.HTTPGet != nil {
			n++
			port = &pr.HTTPGet.Port
			pf += ".httpGet.port"
			if pr.HTTPGet.Path != "" && !strings.HasPrefix(pr.HTTPGet.Path, "/") {
				c.addf(o, f+"."+name+".httpGet.path", "%q must start with /", pr.HTTPGet.Path)
			}
		}
		if pr.TCPSocket != nil {
			n++
			port = &pr.TCPSocket.Port
			pf += ".tcpSocket.port"
		}
		if pr.Exec != nil {
			n++
		}
		if pr.GRPC != nil {
			n++
			if !numbers[pr.GRPC.Port] {
				c.addf(o, pf+".grpc.port", "%d is not one of the container's ports", pr.GRPC.Port)
			}
		}
		if n != 1 {
			c.addf(o, f+"."+name, "needs exactly one of httpGet, tcpSocket, exec, grpc (has %d)", n)
			continue
		}
		if port != nil {
			c.portRef(o, pf, *port, ports, numbers)
		}
	}
	envNames := map[string]bool{}
	for i, e := range ct.Env {
		ef := fmt.Sprintf("%s.env[%d]", f, i)
		if e.Name == "" {
			c.addf(o, ef+".name", "missing")
		} else {
			ef = fmt.Sprintf("%s(%s)", ef, e.Name)
			for _, msg := range validation.IsEnvVarName(e.Name) {
				c.addf(o, ef+".name", "%s", msg)
			}
		}
		if envNames[e.Name] {
			c.addf(o, ef+".name", "listed twice")
		}
		envNames[e.Name] = true
		if e.ValueFrom == nil {
			continue
		}
		if e.Value != "" {
			c.addf(o, ef, "value and valueFrom are exclusive")
		}
		switch vf := e.ValueFrom; {
		case vf.ConfigMapKeyRef != nil:
			c.keyRef(o, ef+".valueFrom.configMapKeyRef", "ConfigMap", c.configMaps, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
		case vf.SecretKeyRef != nil:
			c.keyRef(o, ef+".valueFrom.secretKeyRef", "Secret", c.secrets, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
		case vf.FieldRef != nil, vf.ResourceFieldRef != nil, vf.FileKeyRef != nil:
		default:
			c.addf(o, ef+".valueFrom", "empty")
		}
	}
	for i, e := range ct.EnvFrom {
		ef := fmt.Sprintf("%s.envFrom[%d]", f, i)
		if r := e.ConfigMapRef; r != nil && c.configMaps[r.Name] == nil && !isTrue(r.Optional) {
			c.addf(o, ef+".configMapRef.name", "no ConfigMap %q is rendered", r.Name)
		}
		if r := e.SecretRef; r != nil && c.secrets[r.Name] == nil && !isTrue(r.Optional) {
			c.addf(o, ef+".secretRef.name", "no Secret %q (rendered or example)", r.Name)
		}
	}
	for i, m := range ct.VolumeMounts {
		if !volumes[m.Name] {
			c.addf(o, fmt.Sprintf("%s.volumeMounts[%d].name", f, i), "no volume %q in the pod", m.Name)
		}
		if !strings.HasPrefix(m.MountPath, "/") {
			c.addf(o, fmt.Sprintf("%s.volumeMounts[%d].mountPath", f, i), "%q must be absolute", m.MountPath)
		}
	}
}

// keyRef: the object must exist and have the key, even for optional refs: the
// example files are the documentation of what ops create.
func (c *checker) keyRef(o Object, f, kind string, known map[string]map[string]bool, name, key string) {
	if name == "" || key == "" {
		c.addf(o, f, "name and key are required")
		return
	}
	keys, ok := known[name]
	if !ok {
		c.addf(o, f+".name", "no %s %q is rendered (or in the example Secret)", kind, name)
		return
	}
	if !keys[key] {
		c.addf(o, f+".key", "%s %q has no key %q (has %s)", kind, name, key, strings.Join(sortedKeys(keys), ", "))
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *checker) portRef(o Object, f string, p intstr.IntOrString, names map[string]int32, numbers map[int32]bool) {
	if p.Type == intstr.String {
		if _, ok := names[p.StrVal]; !ok {
			c.addf(o, f, "%q is not a named port of the container (has %s)", p.StrVal, strings.Join(portNames(names), ", "))
		}
		return
	}
	if !numbers[p.IntVal] {
		c.addf(o, f, "%d is not one of the container's ports", p.IntVal)
	}
}

func portNames(m map[string]int32) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func (c *checker) selectedTemplates(o Object, f string, sel *metav1.LabelSelector) []podTemplate {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		c.addf(o, f, "%v", err)
		return nil
	}
	var out []podTemplate
	for _, t := range c.templates {
		if !s.Empty() && s.Matches(labels.Set(t.tmpl.Labels)) {
			out = append(out, t)
		}
	}
	return out
}

func (c *checker) service(o Object, svc *corev1.Service) {
	if len(svc.Spec.Ports) == 0 && svc.Spec.Type != corev1.ServiceTypeExternalName {
		c.addf(o, "spec.ports", "missing")
	}
	for _, msg := range validation.IsDNS1035Label(svc.Name) {
		c.addf(o, "metadata.name", "%s", msg)
	}
	var pods []podTemplate
	if len(svc.Spec.Selector) > 0 {
		pods = c.selectedTemplates(o, "spec.selector", &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
		if len(pods) == 0 {
			c.addf(o, "spec.selector", "%v selects no workload's pods", svc.Spec.Selector)
			return
		}
	}
	for i, p := range svc.Spec.Ports {
		f := fmt.Sprintf("spec.ports[%d]", i)
		if p.Port < 1 || p.Port > 65535 {
			c.addf(o, f+".port", "%d is not a port (required)", p.Port)
		}
		if len(svc.Spec.Ports) > 1 && p.Name == "" {
			c.addf(o, f+".name", "required when a Service has several ports")
		}
		if len(pods) == 0 {
			continue
		}
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, t := range pods {
			names, numbers := map[string]int32{}, map[int32]bool{}
			for _, ct := range t.tmpl.Spec.Containers {
				for _, cp := range ct.Ports {
					names[cp.Name] = cp.ContainerPort
					numbers[cp.ContainerPort] = true
				}
			}
			before := len(c.problems)
			c.portRef(o, f+".targetPort", target, names, numbers)
			if len(c.problems) > before {
				c.problems[len(c.problems)-1] += " in " + t.owner.String()
			}
		}
	}
}

func (c *checker) serviceMonitor(o Object, sm *monitoringv1.ServiceMonitor) {
	if len(sm.Spec.Endpoints) == 0 {
		c.addf(o, "spec.endpoints", "missing")
	}
	s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		c.addf(o, "spec.selector", "%v", err)
		return
	}
	var svcs []*corev1.Service
	for _, svc := range c.services {
		if !s.Empty() && s.Matches(labels.Set(svc.Labels)) {
			svcs = append(svcs, svc)
		}
	}
	if len(svcs) == 0 {
		c.addf(o, "spec.selector", "%s selects no rendered Service", s)
		return
	}
	for i, ep := range sm.Spec.Endpoints {
		f := fmt.Sprintf("spec.endpoints[%d]", i)
		if ep.Port == "" {
			if ep.TargetPort == nil {
				c.addf(o, f+".port", "missing: name the Service port to scrape")
			}
			continue
		}
		for _, svc := range svcs {
			found := false
			for _, p := range svc.Spec.Ports {
				found = found || p.Name == ep.Port
			}
			if !found {
				c.addf(o, f+".port", "Service %s has no port named %q", svc.Name, ep.Port)
			}
		}
		if ep.Path != "" && !strings.HasPrefix(ep.Path, "/") {
			c.addf(o, f+".path", "%q must start with /", ep.Path)
		}
	}
}

func (c *checker) prometheusRule(o Object, pr *monitoringv1.PrometheusRule) {
	if len(pr.Spec.Groups) == 0 {
		c.addf(o, "spec.groups", "missing")
	}
	groups := map[string]bool{}
	for i, g := range pr.Spec.Groups {
		f := fmt.Sprintf("spec.groups[%d]", i)
		if g.Name == "" {
			c.addf(o, f+".name", "missing")
		}
		if groups[g.Name] {
			c.addf(o, f+".name", "%q used twice", g.Name)
		}
		groups[g.Name] = true
		for j, r := range g.Rules {
			rf := fmt.Sprintf("%s.rules[%d]", f, j)
			if (r.Alert == "") == (r.Record == "") {
				c.addf(o, rf, "exactly one of alert and record is required")
			}
			if r.Alert != "" {
				rf += "(" + r.Alert + ")"
			}
			if r.Expr.String() == "" || r.Expr.String() == "0" && r.Expr.Type == intstr.Int {
				c.addf(o, rf+".expr", "missing")
			}
			if r.Record != "" && len(r.Annotations) > 0 {
				c.addf(o, rf+".annotations", "only alerting rules take annotations")
			}
		}
	}
}

// render is what -o writes: the kustomize output, and the example Secret when asked.
func render(r *Result, withSecret string) ([]byte, error) {
	if withSecret == "" {
		return r.YAML, nil
	}
	b, err := os.ReadFile(withSecret)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(r.YAML)
	buf.WriteString("---\n")
	buf.Write(b)
	return buf.Bytes(), nil
}

// whichFile names the file of dir that does not parse as strict YAML (duplicate
// keys, say): kustomize's own message gives a line number but not the file.
func whichFile(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for i, doc := range strings.Split(string(b), "\n---") {
			if _, err := yaml.YAMLToJSONStrict([]byte(doc)); err != nil {
				out = append(out, fmt.Sprintf("%s (document %d): %s", filepath.Base(f), i+1, decodeMessage(err)))
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "\n  in " + strings.Join(out, "\n  in ")
}
