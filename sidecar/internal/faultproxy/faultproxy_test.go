package faultproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes msg and reads the echo within wait.
func roundTrip(c net.Conn, msg string, wait time.Duration) (string, error) {
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

// TestSilence: silenced connections stay open and accept writes but carry nothing
// either way; new ones pass; with Blackhole, new ones are silent too.
func TestSilence(t *testing.T) {
	p, err := New(echoServer(t))
	require.NoError(t, err)
	defer p.Close()

	old, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer old.Close()
	got, err := roundTrip(old, "hello", time.Second)
	require.NoError(t, err)
	require.Equal(t, "hello", got)

	require.Equal(t, 1, p.Silence())
	_, err = roundTrip(old, "anyone?", 300*time.Millisecond)
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "a silenced connection neither answers nor closes: %v", err)
	_, err = old.Write([]byte("still writable"))
	require.NoError(t, err)

	fresh, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer fresh.Close()
	got, err = roundTrip(fresh, "new", time.Second)
	require.NoError(t, err)
	require.Equal(t, "new", got)

	p.Blackhole(true)
	dark, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err, "a blackholed proxy still accepts")
	defer dark.Close()
	_, err = roundTrip(dark, "void", 300*time.Millisecond)
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
}
