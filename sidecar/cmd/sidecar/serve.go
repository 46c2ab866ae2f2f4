package main

import (
	"context"
	"fmt"
	"io"
)

// serve runs the sidecar service until ctx ends. Placeholder until the sidecar-core
// work lands; it exits non-zero so nothing mistakes it for a running service.
func serve(ctx context.Context, stderr io.Writer) int {
	fmt.Fprintln(stderr, "sidecar: the service is not built yet")
	return 1
}
