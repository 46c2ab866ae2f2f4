// Package testlog routes a component's slog output to the test's log, so it shows
// with the test that produced it (and only when the test fails or runs with -v).
package testlog

import (
	"log/slog"
	"testing"
)

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// New returns a debug-level logger writing to t.Log.
func New(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
