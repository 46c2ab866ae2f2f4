//go:build !linux

package dbconn

import (
	"syscall"
	"time"
)

// userTimeout is Linux's TCP_USER_TIMEOUT; elsewhere keepalives alone notice a
// vanished peer.
func userTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
