package sidecartest

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// StubWebhooks stands in for what a hosted project has (pg_net cannot run here): a
// supabase_functions.http_request() trigger function that records its arguments and
// the payload the real one would POST, in the transaction that fires it, instead of
// sending it. A Deliverer then sends each recorded call once, as pg_net does.
const StubWebhooks = `
create schema supabase_functions;
create table supabase_functions.calls (
  id bigserial primary key, url text, method text, headers jsonb, params jsonb, timeout_ms int, payload jsonb);
create function supabase_functions.http_request() returns trigger language plpgsql as $$
begin
  insert into supabase_functions.calls (url, method, headers, params, timeout_ms, payload)
  values (TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]::jsonb, TG_ARGV[3]::jsonb, TG_ARGV[4]::int,
          jsonb_build_object('old_record', OLD, 'record', NEW, 'type', TG_OP, 'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA));
  return new;
end $$;`

// Psql runs one of deploy/supabase's scripts against url with psql variables.
func Psql(t testing.TB, url string, vars map[string]string, file string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed (scripts/db.sh installs it): %v", err)
	}
	args := []string{"-X", "-q", url, "-f", filepath.Join(testdb.Root(t), "deploy", "supabase", file)}
	for k, v := range vars {
		args = append(args, "-v", k+"="+v)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// Deliverer plays pg_net for a database with StubWebhooks and the webhooks of
// deploy/supabase/register-webhooks.sql: it sends every recorded call, after its
// transaction committed, once, with the registered method, headers and body, to the
// sidecars of Targets in turn (the URL is the sidecar's address; the registered
// host stands for a load balancer). A call that fails (the sidecar is down, or
// answers an error) is dropped: no retry.
type Deliverer struct {
	db      *testdb.DB
	mu      sync.Mutex
	targets []string
	next    int

	Sent, Dropped atomic.Int64
}

// RegisterWebhooks installs the stub and runs register-webhooks.sql with secret,
// then delivers calls until the test ends.
func RegisterWebhooks(t testing.TB, db *testdb.DB, secret string) *Deliverer {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, StubWebhooks); err != nil {
		t.Fatalf("installing the webhook stub: %v", err)
	}
	out, err := Psql(t, db.URL, map[string]string{"sidecar_url": "https://sidecar.invalid", "webhook_secret": secret}, "register-webhooks.sql")
	if err != nil {
		t.Fatalf("register-webhooks.sql: %v\n%s", err, out)
	}
	d := &Deliverer{db: db}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// Target sets the sidecars deliveries go to (none: every delivery is dropped).
func (d *Deliverer) Target(addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.targets = addrs
}

func (d *Deliverer) target() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.targets) == 0 {
		return ""
	}
	d.next++
	return d.targets[d.next%len(d.targets)]
}

func (d *Deliverer) run(ctx context.Context) {
	var last int64
	client := &http.Client{}
	for ctx.Err() == nil {
		rows, err := d.db.Pool.Query(ctx, `select id, method, headers, timeout_ms, payload::text
			from supabase_functions.calls where id > $1 order by id`, last)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		type call struct {
			id      int64
			method  string
			headers map[string]string
			timeout int
			body    string
		}
		var calls []call
		var c call
		_, err = pgx.ForEachRow(rows, []any{&c.id, &c.method, &c.headers, &c.timeout, &c.body}, func() error {
			calls = append(calls, c)
			c = call{}
			return nil
		})
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for _, c := range calls {
			last = c.id
			addr := d.target()
			if addr == "" {
				d.Dropped.Add(1)
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, time.Duration(c.timeout)*time.Millisecond)
			req, _ := http.NewRequestWithContext(rctx, c.method, "http://"+addr+"/webhooks/supabase", bytes.NewBufferString(c.body))
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			cancel()
			if err != nil || resp.StatusCode >= 300 && resp.StatusCode != http.StatusAccepted {
				d.Dropped.Add(1)
			} else {
				d.Sent.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
		if len(calls) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
