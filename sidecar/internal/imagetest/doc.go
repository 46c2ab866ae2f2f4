// Package imagetest runs the sidecar's container image, the archive `make image`
// writes (scripts/image.sh), with podman against the local test database: one
// container as `podman run` would start it in production (non-root, read-only root
// filesystem, health check, SIGTERM), and the rendered Kubernetes Deployment with
// `podman kube play` (two replicas, one streams, failover). It has no non-test code.
//
// The archive comes from SIDECAR_IMAGE_ARCHIVE (scripts/test.sh builds it once and
// sets it); without it the tests run scripts/image.sh themselves. Podman missing is
// a failure, not a skip: scripts/image.sh installs it.
package imagetest
