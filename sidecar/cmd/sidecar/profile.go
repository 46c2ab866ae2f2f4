package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// cpuProfile starts a CPU profile written to the file SIDECAR_CPU_PROFILE names, when
// it is set, and returns the function that ends it (at shutdown). It is for
// profiling a benchmark or a staging run with `go tool pprof bin/sidecar FILE`; the
// profiler costs a few percent of CPU while it runs.
func cpuProfile(lookup func(string) (string, bool), stderr io.Writer) (stop func()) {
	path, ok := lookup("SIDECAR_CPU_PROFILE")
	if !ok || path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar: SIDECAR_CPU_PROFILE: %v (not profiling)\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "sidecar: SIDECAR_CPU_PROFILE: %v (not profiling)\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
