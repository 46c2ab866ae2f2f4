package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCPUProfile(t *testing.T) {
	lookup := func(v string) func(string) (string, bool) {
		return func(name string) (string, bool) {
			if name == "SIDECAR_CPU_PROFILE" && v != "" {
				return v, true
			}
			return "", false
		}
	}
	var stderr bytes.Buffer
	cpuProfile(lookup(""), &stderr)()
	require.Empty(t, stderr.String(), "unset: nothing happens")

	path := filepath.Join(t.TempDir(), "cpu.prof")
	cpuProfile(lookup(path), &stderr)()
	require.Empty(t, stderr.String())
	st, err := os.Stat(path)
	require.NoError(t, err, "set: the profile is written when it stops")
	require.Positive(t, st.Size())

	cpuProfile(lookup(filepath.Join(t.TempDir(), "missing", "cpu.prof")), &stderr)()
	require.Contains(t, stderr.String(), "SIDECAR_CPU_PROFILE", "an unwritable path is reported, and the sidecar runs on")
}
