// Package sessioncheck tells whether a database connection keeps session state,
// by trying it: a transaction-mode pooler (Supabase's transaction pooler on port
// 6543, pgbouncer with pool_mode=transaction) hands each transaction whatever
// server session is free, so what one statement leaves in its session is gone, or
// seen by another client, at the next. The sidecar relies on session state (pgx's
// cached prepared statements, the leader's session advisory lock), so the doctor
// and the service at start refuse such a connection (Require) instead of running
// half-working on it.
//
// The probe speaks the simple query protocol only, so that it works through any
// pooler, and is bounded by Timeout whatever the caller's context.
package sessioncheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Timeout bounds a probe: connecting twice and about ten short statements.
const Timeout = 5 * time.Second

// TransactionPort is the port of Supabase's transaction pooler (Supavisor), hosted
// and self-hosted; the session pooler listens on 5432 of the same host.
const TransactionPort = 6543

// Fix says what to use instead of a connection without session state.
const Fix = "use the session pooler (the same host, port 5432) to run with webhooks only (REPLICATION_ENABLED=false), " +
	"or the direct connection (db.<ref>.supabase.co:5432) for replication"

// setting is the custom parameter the probe sets in its first session.
const setting = "talent.session_probe"

// rounds is how many times the second connection takes a server session while the
// first runs a statement. A pooler that hands out its most recently freed session
// (pgbouncer) is caught in the first; one that hands out the least recently used
// brings the first connection's session round within a few.
const rounds = 3

// release is how long the second connection holds its transaction while the first
// connection's statement has not answered. A pooler with every server session
// taken makes the first connection wait for the second's; after release the second
// lets go and the statement's answer decides. Waiting is never a verdict by itself,
// so a slow direct connection cannot be mistaken for a pooler.
const release = 300 * time.Millisecond

// Result is what a probe found.
type Result struct {
	// Session: the first connection kept its own server session and setting for
	// every statement, and no other connection was served by that session.
	Session bool
	// Evidence says what showed that session state does not persist (when !Session).
	Evidence string
	// BehindPooler: the server session's pid differs from the one announced when
	// the connection opened (BackendKeyData): something between answers the
	// connection, as any pooler, session or transaction mode, does.
	BehindPooler bool
	// Took is how long the probe ran.
	Took time.Duration
}

// backend identifies the server session that ran a statement: its pid, and the
// start of the server that runs it (pids repeat across servers), and what it holds
// for the probe's setting.
type backend struct {
	pid     uint32
	server  string
	setting string
}

func (b backend) same(o backend) bool { return b.pid == o.pid && b.server == o.server }

// identity is the session's pid and its server's start, in a form no session
// setting (TimeZone, DateStyle) changes.
const identity = "pg_backend_pid(), extract(epoch from pg_postmaster_start_time())::text"

const read = "select " + identity + ", coalesce(current_setting('" + setting + "', true), '')"

// Probe opens two connections with cfg (in the simple query protocol) and tells
// whether the first keeps its session state: it sets a random value in its session,
// then, several times, the second connection opens a transaction, pinning whatever
// server session it is given, and reads the value and its session's pid while the
// first reads its own. On a direct connection or a session pooler the first always
// finds its pid and value and the second never does; through a transaction pooler
// the second is given the session the first just used, or the first is given
// another. An error means the probe could not run (no connection, the deadline).
func Probe(ctx context.Context, cfg *pgx.ConnConfig) (Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cfg = cfg.Copy()
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol

	var first, second *pgx.Conn
	secondErr := make(chan error, 1)
	go func() {
		var err error
		second, err = pgx.ConnectConfig(ctx, cfg)
		secondErr <- err
	}()
	first, err := pgx.ConnectConfig(ctx, cfg)
	if err2 := <-secondErr; err == nil {
		err = err2
	}
	defer closeConn(first)
	defer closeConn(second)
	if err != nil {
		return Result{}, fmt.Errorf("connecting: %w", err)
	}

	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	value := hex.EncodeToString(nonce)
	var own backend
	if err := first.QueryRow(ctx, "select "+identity+", set_config('"+setting+"', '"+value+"', false)").
		Scan(&own.pid, &own.server, &own.setting); err != nil {
		return Result{}, fmt.Errorf("setting a session parameter: %w", err)
	}
	r := Result{BehindPooler: first.PgConn().PID() != own.pid}
	r.Evidence, err = handOff(ctx, first, second, own)
	if err != nil {
		return Result{}, err
	}
	r.Session = r.Evidence == ""
	r.Took = time.Since(start)
	return r, nil
}

// handOff runs the probe's rounds and returns the evidence that session state does
// not persist, or "".
func handOff(ctx context.Context, first, second *pgx.Conn, own backend) (string, error) {
	for range rounds {
		other, err := readIn(ctx, second, "begin; ")
		if err != nil {
			return "", fmt.Errorf("opening a transaction on a second connection: %w", err)
		}
		switch {
		case other.setting == own.setting:
			return fmt.Sprintf("a second connection saw the parameter the first had just set in its own session (backend pid %d)", other.pid), nil
		case other.same(own):
			return fmt.Sprintf("a second connection was served by the server session of the first (backend pid %d) while the first was still open", own.pid), nil
		}

		answer := make(chan error, 1)
		var again backend
		go func() {
			var err error
			again, err = readIn(ctx, first, "")
			answer <- err
		}()
		held := true
		select {
		case err = <-answer:
		case <-time.After(release):
			// Perhaps waiting for the session the second connection holds: let go.
			if _, err := second.Exec(ctx, "commit"); err != nil {
				<-answer
				return "", fmt.Errorf("ending the second connection's transaction: %w", err)
			}
			held = false
			err = <-answer
		}
		if err != nil {
			return "", fmt.Errorf("reading the session parameter back: %w", err)
		}
		switch {
		case !again.same(own):
			return fmt.Sprintf("the first connection's statements ran in different server sessions (backend pids %d, then %d)", own.pid, again.pid), nil
		case again.setting != own.setting:
			return "the first connection lost the parameter it had set in its own session between two statements", nil
		}
		if held {
			if _, err := second.Exec(ctx, "commit"); err != nil {
				return "", fmt.Errorf("ending the second connection's transaction: %w", err)
			}
		}
	}
	return "", nil
}

// readIn reads the session's identity and the probe's setting in one round trip,
// after prefix (which may open a transaction).
func readIn(ctx context.Context, conn *pgx.Conn, prefix string) (backend, error) {
	results, err := conn.PgConn().Exec(ctx, prefix+read).ReadAll()
	if err != nil {
		return backend{}, err
	}
	last := results[len(results)-1]
	if len(last.Rows) != 1 || len(last.Rows[0]) != 3 {
		return backend{}, errors.New("unexpected answer")
	}
	row := last.Rows[0]
	var pid uint32
	if _, err := fmt.Sscan(string(row[0]), &pid); err != nil {
		return backend{}, fmt.Errorf("reading pg_backend_pid(): %w", err)
	}
	return backend{pid: pid, server: string(row[1]), setting: string(row[2])}, nil
}

func closeConn(c *pgx.Conn) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// Refusal is the error Require returns for a connection without session state.
type Refusal struct {
	Evidence string
}

func (e *Refusal) Error() string {
	return "DATABASE_URL leads to a transaction pooler, a connection without session state (" + e.Evidence +
		"); the sidecar needs a session of its own (cached prepared statements, the leader's advisory lock), so it does not start: " + Fix
}

// Require is what the service calls at start, before anything uses the database:
// nil when cfg's connection keeps session state; a *Refusal when it does not (port
// TransactionPort refuses without connecting: on Supabase it is the transaction
// pooler, whatever a probe would happen to see); another error when the probe could
// not run.
func Require(ctx context.Context, cfg *pgx.ConnConfig) error {
	if refusal := ByPort(cfg.Port); refusal != nil {
		return refusal
	}
	r, err := Probe(ctx, cfg)
	if err != nil {
		return fmt.Errorf("checking that the database connection keeps session state: %w", err)
	}
	if !r.Session {
		return &Refusal{Evidence: r.Evidence}
	}
	return nil
}

// ByPort refuses Supabase's transaction pooler by its port, or returns nil.
func ByPort(port uint16) *Refusal {
	if port == TransactionPort {
		return &Refusal{Evidence: fmt.Sprintf("port %d is Supabase's transaction pooler (Supavisor), which gives each transaction another session", TransactionPort)}
	}
	return nil
}
