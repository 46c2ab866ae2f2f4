package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// The alert rules have one source: the plain Prometheus rules file (what promtool
// checks and unit-tests). The PrometheusRule in deploy/k8s is generated from it
// (-write-prometheusrule), and Check fails when the rendered PrometheusRule's groups
// differ from the file's. The file is the source, not the PrometheusRule, because
// promtool reads only the plain format and plain-Prometheus users apply it as is.

// prometheusRuleFile is the generated manifest's name in the kustomization directory.
const prometheusRuleFile = "prometheusrule.yaml"

// loadRuleGroups decodes a plain rules file strictly into the Prometheus Operator's
// group type, so an unknown or misspelt field fails here too.
func loadRuleGroups(path string) ([]monitoringv1.RuleGroup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %s", filepath.Base(path), decodeMessage(err))
	}
	if len(f.Groups) == 0 {
		return nil, fmt.Errorf("%s: no groups", filepath.Base(path))
	}
	return f.Groups, nil
}

// checkRules compares the rendered PrometheusRule(s) with the rules file.
func checkRules(objs []Object, rulesPath, dir string) []string {
	want, err := loadRuleGroups(rulesPath)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	n := 0
	for _, o := range objs {
		pr, ok := o.Obj.(*monitoringv1.PrometheusRule)
		if !ok {
			continue
		}
		n++
		if d := diffGroups(pr.Spec.Groups, want); d != "" {
			problems = append(problems, fmt.Sprintf("%s: spec.groups: %s differs from %s (regenerate: cd tools/k8scheck && go run . -dir %s -write-prometheusrule)",
				o, d, rulesPath, dir))
		}
	}
	if n != 1 {
		problems = append(problems, fmt.Sprintf("want one PrometheusRule carrying %s, rendered %d", rulesPath, n))
	}
	return problems
}

// diffGroups names the first rule (or group) where got and want differ, "" if none.
func diffGroups(got, want []monitoringv1.RuleGroup) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d groups, the file has %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if len(g.Rules) != len(w.Rules) {
			return fmt.Sprintf("group %q has %d rules, the file %d", w.Name, len(g.Rules), len(w.Rules))
		}
		for j := range g.Rules {
			if !reflect.DeepEqual(g.Rules[j], w.Rules[j]) {
				return fmt.Sprintf("group %q rule [%d] (%s)", w.Name, j, w.Rules[j].Alert+w.Rules[j].Record)
			}
		}
		return fmt.Sprintf("group %q (its settings)", w.Name)
	}
	return "the groups"
}

// prometheusRuleYAML is the manifest -write-prometheusrule writes: the rules file's
// groups, as written (comments and layout kept), under a PrometheusRule's spec.
func prometheusRuleYAML(rulesPath, relRules string) ([]byte, error) {
	if _, err := loadRuleGroups(rulesPath); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		return nil, err
	}
	body := string(b)
	i := strings.Index(body, "\ngroups:")
	if !strings.HasPrefix(body, "groups:") {
		if i < 0 {
			return nil, fmt.Errorf("%s: no top-level groups: line", rulesPath)
		}
		body = body[i+1:]
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, `# GENERATED from %s; do not edit. Edit that file, then
#   cd tools/k8scheck && go run . -write-prometheusrule
# (k8scheck, run by make test, fails when the two differ). Needs the Prometheus
# Operator's monitoring.coreos.com CRDs, like servicemonitor.yaml; your Prometheus's
# ruleSelector may want a label (e.g. release) added here through kustomize.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: talent-sidecar
  labels:
    app.kubernetes.io/name: talent-sidecar
spec:
`, relRules)
	for _, line := range strings.SplitAfter(body, "\n") {
		if strings.TrimSpace(line) != "" {
			out.WriteString("  ")
		}
		out.WriteString(line)
	}
	return out.Bytes(), nil
}
