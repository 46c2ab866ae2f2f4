// Command k8scheck renders deploy/k8s with kustomize (the Go library kubectl and
// kustomize use), decodes every object strictly into the Kubernetes API types of one
// release (see KubernetesRelease) and the Prometheus Operator's types, checks the
// references between them, and writes the rendered YAML.
//
//	cd tools/k8scheck && go run . -dir ../../deploy/k8s -o /tmp/rendered.yaml
//
// Exit status: 0 valid (and written), 1 a manifest problem (each line names the
// object and the field), 2 bad usage or a file that could not be read or written.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("k8scheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "../../deploy/k8s", "kustomization directory to render")
	out := fs.String("o", "", "write the rendered multi-document YAML here (- for stdout); nothing is written when a check fails")
	secret := fs.String("secret", "secret.example.yaml", "example Secret, relative to -dir, that secretKeyRefs are checked against (\"\" to skip)")
	rules := fs.String("rules", "../prometheus/talent-sidecar.rules.yml", "plain Prometheus rules file, relative to -dir, the rendered PrometheusRule must equal (\"\" to skip)")
	writeRule := fs.Bool("write-prometheusrule", false, "write DIR/"+prometheusRuleFile+" from -rules and exit")
	withSecret := fs.Bool("with-secret", false, "append the example Secret to the output (for podman kube play; never for a cluster)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: k8scheck [-dir DIR] [-o FILE] [-secret FILE] [-rules FILE] [-with-secret] | -write-prometheusrule\n"+
			"Renders DIR with kustomize and validates it against Kubernetes %s.\n", KubernetesRelease)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	secretPath := ""
	if *secret != "" {
		secretPath = *secret
		if !filepath.IsAbs(secretPath) {
			secretPath = filepath.Join(*dir, secretPath)
		}
	}
	rulesPath := ""
	if *rules != "" {
		rulesPath = *rules
		if !filepath.IsAbs(rulesPath) {
			rulesPath = filepath.Join(*dir, rulesPath)
		}
	}
	if *writeRule {
		return writePrometheusRule(*dir, rulesPath, stderr)
	}
	res, err := Check(*dir, secretPath, rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "k8scheck: %v\n", err)
		return 1
	}
	if len(res.Problems) > 0 {
		for _, p := range res.Problems {
			fmt.Fprintf(stderr, "k8scheck: %s\n", p)
		}
		fmt.Fprintf(stderr, "k8scheck: %s: %d problem(s) against Kubernetes %s\n", *dir, len(res.Problems), KubernetesRelease)
		return 1
	}
	if *out != "" {
		ws := ""
		if *withSecret {
			ws = secretPath
		}
		b, err := render(res, ws)
		if err != nil {
			fmt.Fprintf(stderr, "k8scheck: %v\n", err)
			return 2
		}
		if *out == "-" {
			_, err = stdout.Write(b)
		} else {
			err = os.WriteFile(*out, b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "k8scheck: %v\n", err)
			return 2
		}
	}
	fmt.Fprintf(stderr, "k8scheck: %s: %d objects valid against Kubernetes %s\n", *dir, len(res.Objects), KubernetesRelease)
	return 0
}

func writePrometheusRule(dir, rulesPath string, stderr io.Writer) int {
	if rulesPath == "" {
		fmt.Fprintln(stderr, "k8scheck: -write-prometheusrule needs -rules")
		return 2
	}
	rel, err := filepath.Rel(filepath.Join(dir, "../.."), rulesPath)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = filepath.Base(rulesPath)
	}
	b, err := prometheusRuleYAML(rulesPath, filepath.ToSlash(rel))
	if err != nil {
		fmt.Fprintf(stderr, "k8scheck: %v\n", err)
		return 1
	}
	out := filepath.Join(dir, prometheusRuleFile)
	if err := os.WriteFile(out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "k8scheck: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "k8scheck: wrote %s from %s\n", out, rulesPath)
	return 0
}
