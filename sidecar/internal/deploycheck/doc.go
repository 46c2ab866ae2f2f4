// Package deploycheck holds the tests that keep deploy/ honest: the Kubernetes
// manifests name exactly the environment variables the config struct reads, every
// ConfigMap and Secret key they reference exists, and the shipped values pass the
// sidecar's own validation. It has no non-test code.
package deploycheck
