// Package deploycheck holds the tests that keep deploy/ honest: the Kubernetes
// manifests name exactly the environment variables the config struct reads and the
// shipped values pass the sidecar's own validation; a running sidecar's /metrics
// passes `promtool check metrics`, and the alert rules in deploy/prometheus select
// metrics and labels that scrape really has. (That the manifests are valid
// Kubernetes objects whose references resolve is tools/k8scheck's job.) The docs
// are kept true too: every relative link of README.md, docs/ and the runbook leads to
// a file (and heading) that exists, and every `make` target they name is the
// Makefile's. It has no non-test code.
package deploycheck
