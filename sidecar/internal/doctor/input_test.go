package doctor

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/doctor/inspect"
	"github.com/talent-onboarding/backend/sidecar/internal/mediaguard"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
	"github.com/talent-onboarding/backend/sidecar/internal/sessioncheck"
)

func TestRunMarksInputErrors(t *testing.T) {
	_, err := runChecks(context.Background(), Options{DatabaseURL: "nope", Slot: "a", Publication: "b"})
	require.True(t, errors.Is(err, errInput))
}

// injected is a healthy set of facts, as a superuser's would be, for the sidecar
// set up by its defaults on a hosted project.
func injected() *inspect.Facts {
	pubs := map[string]*inspect.Publication{}
	owns := map[string]bool{}
	for _, w := range replication.Publications("p") {
		tables := map[string]inspect.PublishedTable{}
		for _, t := range w.Tables {
			tables[t] = inspect.PublishedTable{}
			owns[t] = true
		}
		pubs[w.Name] = &inspect.Publication{Insert: true, Update: w.Publish == "insert, update", Owned: true, Tables: tables}
	}
	ident := map[string]string{}
	for _, t := range change.Guarded() {
		ident[t] = "f"
	}
	recorded := map[string][]inspect.Trigger{}
	for _, t := range change.Catalogue {
		if t.Recorded {
			recorded[t.QualifiedName()] = []inspect.Trigger{{Name: t.UpdateRecorder(), Enabled: true, Update: true, Delete: true, RecordsUpdates: true}}
		}
	}
	var guards []inspect.Guard
	for t, cols := range mediaguard.GuardedColumns() {
		guards = append(guards, inspect.Guard{Table: "public." + t, Name: t + "_z_media_guard", Function: "private." + t + "_media_guard",
			Enabled: true, BeforeRow: true, Insert: true, Update: true, Columns: slices.Sorted(slices.Values(cols))})
	}
	access := func(privileges []string) *inspect.TableAccess {
		a := &inspect.TableAccess{SchemaUsage: true, Privileges: map[string]bool{}}
		for _, p := range privileges {
			a.Privileges[p] = true
		}
		return a
	}
	return &inspect.Facts{
		Database:        "postgres",
		Session:         &sessioncheck.Result{Session: true},
		Settings:        map[string]string{"wal_level": "logical", "max_replication_slots": "5", "max_wal_senders": "5", "max_slot_wal_keep_size": "4096"},
		SlotsUsed:       1,
		SendersUsed:     1,
		Role:            "postgres",
		RoleReplication: true,
		RoleBypassRLS:   true,
		Publications:    pubs,
		CanCreate:       true,
		Owns:            owns,
		ReplicaIdentity: ident,
		Recorded:        recorded,
		Changes:         access(inspect.ChangesPrivileges),
		SlotMemory:      access(inspect.SlotMemoryPrivileges),
		Webhooks: []inspect.Webhook{{Table: change.Records.QualifiedName(), Enabled: true, Insert: true,
			Function: "supabase_functions.http_request", URL: "https://sidecar.example.com/webhooks/supabase"}},
		Guards:  guards,
		Applied: map[string]bool{"20260101000000": true},
		Slot:    &inspect.Slot{Plugin: "pgoutput", SlotType: "logical", Database: "postgres", WALStatus: "reserved"},
	}
}

var injectedOptions = Options{DatabaseURL: "postgresql://postgres@db.example.supabase.co:5432/postgres", Slot: "s", Publication: "p",
	MaxLagBytes: 1 << 20, Migrations: []string{"20260101000000"}}

// inspect.Facts that cannot be produced on the shared local server, injected.
func TestEvaluateInjectedFacts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(f *inspect.Facts, o *Options)
		want   string // the one failing check; "" for none
		warn   string // the one check passing with a warning; "" for none
		detail string
	}{
		{name: "healthy", mutate: func(*inspect.Facts, *Options) {}},
		{name: "no free slot for a missing slot", want: "replication slots available", detail: "none is free",
			mutate: func(f *inspect.Facts, _ *Options) { f.Slot = nil; f.SlotsUsed = 5 }},
		{name: "no free WAL sender", want: "WAL senders available", detail: "5 of 5 in use",
			mutate: func(f *inspect.Facts, _ *Options) { f.SendersUsed = 5 }},
		{name: "no free WAL sender but ours streams", mutate: func(f *inspect.Facts, _ *Options) { f.SendersUsed = 5; f.Slot.Active = true }},
		{name: "slot lost", warn: "replication slot s", detail: "lost: wal_status = lost",
			mutate: func(f *inspect.Facts, _ *Options) { f.Slot.WALStatus = "lost" }},
		{name: "slot lost, no slot free: it is dropped first", warn: "replication slot s", detail: "the catch-up applies the change records of the gap",
			mutate: func(f *inspect.Facts, _ *Options) { f.Slot.WALStatus = "lost"; f.SlotsUsed = 5 }},
		{name: "slot of another database", want: "replication slot s", detail: `belongs to database "other"`,
			mutate: func(f *inspect.Facts, _ *Options) { f.Slot.Database = "other" }},
		{name: "lag while streaming", want: "slot lag", detail: "2MB behind",
			mutate: func(f *inspect.Facts, _ *Options) { f.Slot.Active = true; f.Slot.LagBytes = 2 << 20 }},
		{name: "guarded table missing", want: "REPLICA IDENTITY FULL", detail: "public.onboarding_progress does not exist",
			mutate: func(f *inspect.Facts, _ *Options) { delete(f.ReplicaIdentity, "public.onboarding_progress") }},
		{name: "recorded table without triggers", want: "change record", detail: "missing trigger email_templates_record_change on public.email_templates",
			mutate: func(f *inspect.Facts, _ *Options) { f.Recorded["public.email_templates"] = []inspect.Trigger{} }},
		{name: "no update privilege", want: "change record access", detail: "lacks UPDATE(processed_at)",
			mutate: func(f *inspect.Facts, _ *Options) { f.Changes.Privileges["UPDATE(processed_at)"] = false }},
		{name: "publication missing, not creatable", want: "publication p_media", detail: "may not create it",
			mutate: func(f *inspect.Facts, _ *Options) { f.Publications["p_media"] = nil; f.CanCreate = false }},
		{name: "publication missing, creatable", mutate: func(f *inspect.Facts, _ *Options) { f.Publications["p_media"] = nil }},
		{name: "publication of another owner", want: "publication p", detail: "missing sidecar.changes",
			mutate: func(f *inspect.Facts, _ *Options) {
				f.Publications["p"].Tables = map[string]inspect.PublishedTable{}
				f.Publications["p"].Owned = false
			}},
		{name: "transaction pooler", want: "session connection", detail: "transaction pooler",
			mutate: func(_ *inspect.Facts, o *Options) {
				o.DatabaseURL = "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
			}},
		{name: "session pooler", want: "replication connection", detail: "server said",
			mutate: func(f *inspect.Facts, o *Options) {
				o.DatabaseURL = "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres"
				f.ReplicationErr = errors.New("server said: something (SQLSTATE 08P01)")
			}},
		{name: "no webhook, replication", mutate: func(f *inspect.Facts, _ *Options) { f.Webhooks = nil }},
		{name: "no webhook, webhooks only", warn: "webhook registered", detail: "waits for the next catch-up",
			mutate: func(f *inspect.Facts, o *Options) { f.Webhooks = nil; o.WebhooksOnly = true }},
		{name: "webhook disabled", warn: "webhook registered", detail: "is disabled",
			mutate: func(f *inspect.Facts, _ *Options) { f.Webhooks[0].Enabled = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, o := injected(), injectedOptions
			tc.mutate(f, &o)
			var failed, warned []checkResult
			for _, r := range evaluate(f, o) {
				switch {
				case !r.OK:
					failed = append(failed, r)
				case r.Warn:
					warned = append(warned, r)
				}
			}
			var got []checkResult
			switch {
			case tc.want != "":
				require.Len(t, failed, 1, "%+v", failed)
				require.Equal(t, tc.want, failed[0].Name)
				got = failed
			case tc.warn != "":
				require.Empty(t, failed)
				require.Len(t, warned, 1, "%+v", warned)
				require.Equal(t, tc.warn, warned[0].Name)
				got = warned
			default:
				require.Empty(t, failed)
				require.Empty(t, warned)
				return
			}
			require.Contains(t, got[0].Detail, tc.detail)
			require.NotEmpty(t, got[0].Fix)
			if tc.name == "session pooler" {
				require.Contains(t, got[0].Fix, "db.<ref>.supabase.co:5432")
				require.Contains(t, got[0].Fix, "REPLICATION_ENABLED=false")
			}
		})
	}
}

// Each mode's verdict counts its own checks and those both need, and nothing else.
func TestVerdicts(t *testing.T) {
	t.Parallel()
	f, o := injected(), injectedOptions
	f.RoleReplication = false
	f.ReplicationErr = errors.New("server said: must be superuser or replication role to start walsender (SQLSTATE 42501)")
	f.Webhooks = nil
	o.WebhooksOnly = true
	results := evaluate(f, o)
	require.Equal(t, []string{"role has REPLICATION", "replication connection"}, missingFor(results, Replication))
	require.Empty(t, missingFor(results, WebhooksOnly))
	require.Equal(t, []string{"webhook registered"}, warningsFor(results, WebhooksOnly))
	require.Empty(t, warningsFor(results, Replication))
	require.Equal(t, "replication: not available — missing: role has REPLICATION, replication connection", verdictLine(results, Replication))
	require.Equal(t, "webhooks only: ready (warnings: webhook registered)", verdictLine(results, WebhooksOnly))

	var b bytes.Buffer
	printReport(&b, o, results)
	require.True(t, strings.HasSuffix(b.String(), "\n\nwith role postgres, this database allows:\n"+
		"  replication: not available — missing: role has REPLICATION, replication connection\n"+
		"  webhooks only: ready (warnings: webhook registered)\n"+
		"REPLICATION_ENABLED=false selects webhooks only: ready\n"), b.String())
}

// The guard may be split over several triggers: what counts is that an insert and
// an update of each guarded column fire one, BEFORE and FOR EACH ROW.
func TestMediaGuardCoverage(t *testing.T) {
	t.Parallel()
	guarded := map[string][]string{"t": {"a", "b", "c"}}
	g := func(name string, insert, update bool, cols ...string) inspect.Guard {
		return inspect.Guard{Table: "public.t", Name: name, Function: "private.t_media_guard", Enabled: true, BeforeRow: true,
			Insert: insert, Update: update, Columns: cols}
	}
	for _, tc := range []struct {
		name   string
		guards []inspect.Guard
		detail string // empty: passes
	}{
		{"one trigger, every update", []inspect.Guard{g("g", true, true)}, ""},
		{"insert and update apart", []inspect.Guard{g("i", true, false), g("u", false, true, "a", "b", "c")}, ""},
		{"two update lists that cover", []inspect.Guard{g("i", true, true, "a"), g("u", false, true, "b", "c")}, ""},
		{"disabled", []inspect.Guard{{Table: "public.t", Name: "g", Function: "private.t_media_guard", BeforeRow: true,
			Insert: true, Update: true}}, "trigger g on public.t is disabled (the database"},
		{"a column left out", []inspect.Guard{g("i", true, true, "a", "c")},
			"an UPDATE of b on public.t does not run private.t_media_guard"},
		{"insert not guarded", []inspect.Guard{g("u", false, true)},
			"an INSERT into public.t does not run private.t_media_guard"},
		{"after, not before", []inspect.Guard{{Table: "public.t", Name: "g", Function: "private.t_media_guard", Enabled: true,
			Insert: true, Update: true}}, "no enabled BEFORE … FOR EACH ROW trigger on public.t"},
		{"another table's function", []inspect.Guard{{Table: "public.t", Name: "g", Function: "private.u_media_guard", Enabled: true,
			BeforeRow: true, Insert: true, Update: true}}, "no enabled BEFORE … FOR EACH ROW trigger on public.t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := checkMediaGuard(&inspect.Facts{Guards: tc.guards}, guarded)
			require.True(t, r.OK, "the guard never fails the doctor")
			if tc.detail == "" {
				require.False(t, r.Warn, r.Detail)
				return
			}
			require.True(t, r.Warn)
			require.Contains(t, r.Detail, tc.detail)
		})
	}
}
