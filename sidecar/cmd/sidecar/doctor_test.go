package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHealthURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
		"10.0.0.5:8080":  "http://10.0.0.5:8080/healthz",
		"[fd00::1]:8080": "http://[fd00::1]:8080/healthz",
	} {
		got, err := healthURL(addr)
		require.NoError(t, err, addr)
		require.Equal(t, want, got, addr)
	}
	for _, bad := range []string{"", "8080", "localhost"} {
		_, err := healthURL(bad)
		require.Error(t, err, bad)
	}
}

func TestHealthcheckExitCodes(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	var out, errb bytes.Buffer
	require.Equal(t, 0, dispatch(context.Background(), []string{"healthcheck", "--addr", ":" + port}, &out, &errb), errb.String())

	status = http.StatusServiceUnavailable
	require.Equal(t, 1, dispatch(context.Background(), []string{"healthcheck", "--addr", ":" + port}, &out, &errb))
	require.Contains(t, errb.String(), "503")

	srv.Close()
	require.Equal(t, 1, dispatch(context.Background(), []string{"healthcheck", "--addr", ":" + port}, &out, &errb))
	require.Equal(t, 2, dispatch(context.Background(), []string{"healthcheck", "--addr", "nonsense"}, &out, &errb))
}
