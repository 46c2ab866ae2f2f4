package doctor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

// Bad input never reaches a check: it ends with exit 2 and says what is wrong.
func TestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no database", nil, "set DATABASE_URL or pass --database-url"},
		{"malformed URL", []string{"--database-url", "postgres://user:pw@[::1:5432/db"}, "must look like postgresql://"},
		{"not a postgres URL", []string{"--database-url", "mysql://root:hunter2hunter2@db:3306/x"}, "must look like postgresql://"},
		{"keyword DSN", []string{"--database-url", "host=db user=postgres"}, "must look like postgresql://"},
		{"bad URL parameter", []string{"--database-url", "postgresql://u:secretpw@127.0.0.1:5432/db?sslmode=bogus"}, "parsing database URL"},
		{"unreachable", []string{"--database-url", "postgresql://postgres:secretpw@127.0.0.1:1/postgres", "--timeout", "3s"}, "connecting to postgres@127.0.0.1:1/postgres"},
		{"hostile slot name", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--slot", "x'); drop table t; --"}, "--slot must be 1-63 characters"},
		{"oversized publication name", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--publication", strings.Repeat("p", 64)}, "--publication must be 1-63"},
		{"bad lag", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--max-lag", "lots"}, "--max-lag"},
		{"missing migrations dir", []string{"--database-url", "postgresql://x@127.0.0.1/db", "--migrations-dir", "/nonexistent"}, "--migrations-dir"},
		{"stray argument", []string{"now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"--fix"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, noEnv, &stdout, &stderr)
			require.Equal(t, ExitUsage, code)
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String(), "no checklist without a database")
			require.NotContains(t, stderr.String(), "secretpw", "passwords stay out of messages")
			require.NotContains(t, stderr.String(), "hunter2")
		})
	}
}

func TestRunMarksInputErrors(t *testing.T) {
	_, err := Run(context.Background(), Options{DatabaseURL: "nope", Slot: "a", Publication: "b"})
	require.True(t, errors.Is(err, ErrInput))
}

// Facts that cannot be produced on the shared local server, injected.
func TestEvaluateInjectedFacts(t *testing.T) {
	t.Parallel()
	opt := Options{DatabaseURL: "postgresql://postgres@db.example.supabase.co:5432/postgres", Slot: "s", Publication: "p", MaxLagBytes: 1 << 20, Migrations: []string{"20260101000000"}}
	base := func() *Facts {
		tables := map[string]PublishedTable{}
		ident := map[string]string{}
		for _, t := range RequiredTables {
			tables[t] = PublishedTable{}
			ident[t] = "f"
		}
		return &Facts{
			Database:        "postgres",
			Settings:        map[string]string{"wal_level": "logical", "max_replication_slots": "5", "max_wal_senders": "5", "max_slot_wal_keep_size": "4096"},
			SlotsUsed:       1,
			SendersUsed:     1,
			Role:            "postgres",
			RoleReplication: true,
			Publication:     &PublicationFacts{Insert: true, Update: true, Delete: true, Tables: tables},
			ReplicaIdentity: ident,
			Applied:         map[string]bool{"20260101000000": true},
			Slot:            &SlotFacts{Plugin: "pgoutput", SlotType: "logical", Database: "postgres", WALStatus: "reserved"},
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(f *Facts, o *Options)
		want   string // the one failing check; "" for none
		detail string
	}{
		{name: "healthy", mutate: func(*Facts, *Options) {}},
		{name: "no free slot for a missing slot", want: "replication slots available", detail: "none is free",
			mutate: func(f *Facts, _ *Options) { f.Slot = nil; f.SlotsUsed = 5 }},
		{name: "no free WAL sender", want: "WAL senders available", detail: "5 of 5 in use",
			mutate: func(f *Facts, _ *Options) { f.SendersUsed = 5 }},
		{name: "no free WAL sender but ours streams", mutate: func(f *Facts, _ *Options) { f.SendersUsed = 5; f.Slot.Active = true }},
		{name: "slot lost", want: "replication slot s", detail: "wal_status = lost",
			mutate: func(f *Facts, _ *Options) { f.Slot.WALStatus = "lost" }},
		{name: "slot of another database", want: "replication slot s", detail: `belongs to database "other"`,
			mutate: func(f *Facts, _ *Options) { f.Slot.Database = "other" }},
		{name: "lag while streaming", want: "slot lag", detail: "2MB behind",
			mutate: func(f *Facts, _ *Options) { f.Slot.Active = true; f.Slot.LagBytes = 2 << 20 }},
		{name: "table missing", want: "REPLICA IDENTITY FULL", detail: "public.email_templates does not exist",
			mutate: func(f *Facts, _ *Options) { delete(f.ReplicaIdentity, "public.email_templates") }},
		{name: "pooler", want: "replication connection", detail: "server said",
			mutate: func(f *Facts, o *Options) {
				o.DatabaseURL = "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
				f.ReplicationErr = errors.New("server said: something (SQLSTATE 08P01)")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, o := base(), opt
			tc.mutate(f, &o)
			var failed []Result
			for _, r := range Evaluate(f, o) {
				if !r.OK {
					failed = append(failed, r)
				}
			}
			if tc.want == "" {
				require.Empty(t, failed)
				return
			}
			require.Len(t, failed, 1, "%+v", failed)
			require.Equal(t, tc.want, failed[0].Name)
			require.Contains(t, failed[0].Detail, tc.detail)
			require.NotEmpty(t, failed[0].Fix)
			if tc.name == "pooler" {
				require.Contains(t, failed[0].Fix, "db.<ref>.supabase.co:5432")
			}
		})
	}
}
