// Package dbconn makes every connection the sidecar opens to Postgres one that is
// never trusted forever. Networks fail silently: a peer can vanish (a crashed host,
// a dropped packet path) or go quiet while its socket stays open (a hung pooler, a
// middlebox that lost its state). Each end must notice on its own:
//
//   - the sidecar's sockets send TCP keepalives and give up on data the peer does not
//     acknowledge (TCP_USER_TIMEOUT), so a vanished server is noticed within DeadAfter;
//   - each session asks the server to do the same (tcp_keepalives_*), so a vanished
//     sidecar's backend, its locks and its walsender's hold on the slot go away;
//   - every conversation runs under a context deadline sized to its work (the
//     callers'), because a peer that is alive but silent answers keepalives and only
//     a deadline notices it. pgx closes a connection whose context ends mid-request,
//     so the pool replaces a silent connection instead of waiting on it.
package dbconn

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Keepalive timing, at both ends: probes start after keepIdle of silence and a peer
// that misses keepCount of them, keepInterval apart, is gone.
const (
	keepIdle     = 10 * time.Second
	keepInterval = 5 * time.Second
	keepCount    = 4
	// DeadAfter is how long a peer that vanished (no packets at all) goes
	// unnoticed at most, by the sidecar and by the server.
	DeadAfter = keepIdle + keepCount*keepInterval

	// connectTimeout bounds opening a connection: dialing, TLS and authentication.
	connectTimeout = 10 * time.Second
	// settingsTimeout bounds the statement that applies Settings after connecting.
	settingsTimeout = 5 * time.Second
)

// Configure sets cfg's dialer (keepalives, the unacknowledged-data limit) and its
// connect timeout. The sessions' own settings are applied after connecting (Apply),
// not as startup parameters, which poolers refuse; a replication connection, which
// no pooler carries, takes them at startup (ReplicationParams).
func Configure(cfg *pgconn.Config) {
	d := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepIdle, Interval: keepInterval, Count: keepCount},
		Control:         userTimeout(DeadAfter),
	}
	cfg.DialFunc = d.DialContext
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
}

// Setting is one server setting of a session.
type Setting struct{ Name, Value string }

// Keepalives are the server's side of the keepalive timing: Postgres ends the
// session of a client that vanished within DeadAfter.
func Keepalives() []Setting {
	return []Setting{
		{"tcp_keepalives_idle", strconv.Itoa(int(keepIdle / time.Second))},
		{"tcp_keepalives_interval", strconv.Itoa(int(keepInterval / time.Second))},
		{"tcp_keepalives_count", strconv.Itoa(keepCount)},
	}
}

// Millis spells d as a Postgres duration setting.
func Millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// ReplicationParams adds Keepalives to a replication connection's startup
// parameters.
func ReplicationParams(cfg *pgconn.Config) {
	for _, s := range Keepalives() {
		cfg.RuntimeParams[s.Name] = s.Value
	}
}

// Apply sets settings for conn's session in one statement, in the simple protocol
// (it works through a session pooler) and within settingsTimeout.
func Apply(ctx context.Context, conn *pgx.Conn, settings ...Setting) error {
	if len(settings) == 0 {
		return nil
	}
	calls := make([]string, len(settings))
	for i, s := range settings {
		calls[i] = fmt.Sprintf("set_config(%s, %s, false)", quote(s.Name), quote(s.Value))
	}
	ctx, cancel := context.WithTimeout(ctx, settingsTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "select "+strings.Join(calls, ", "), pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("applying session settings: %w", err)
	}
	return nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
