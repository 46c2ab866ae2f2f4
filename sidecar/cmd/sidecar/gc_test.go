package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// The collector defaults apply only where the environment says nothing.
func TestGCDefaults(t *testing.T) {
	gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(limit) })
	current := func() (int, int64) {
		g := debug.SetGCPercent(-1)
		debug.SetGCPercent(g)
		return g, debug.SetMemoryLimit(-1)
	}

	debug.SetMemoryLimit(1 << 40)
	gcDefaults(func(string) (string, bool) { return "", false })
	g, l := current()
	require.Equal(t, defaultGOGC, g)
	require.Equal(t, int64(defaultGOMEMLIMIT), l)

	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 40)
	gcDefaults(func(name string) (string, bool) { return "set", true })
	g, l = current()
	require.Equal(t, 150, g, "GOGC set: left alone")
	require.Equal(t, int64(1<<40), l, "GOMEMLIMIT set: left alone")
}
