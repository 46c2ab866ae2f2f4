package doctor

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/doctor/inspect"
	"github.com/talent-onboarding/backend/sidecar/internal/mediaguard"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
	"github.com/talent-onboarding/backend/sidecar/internal/sessioncheck"
)

// Mode is what a check is needed for: either input mode, or one of them.
type Mode int

const (
	Both         Mode = iota // needed whichever input runs: the change record and its catch-up
	Replication              // REPLICATION_ENABLED=true: logical replication announces new records
	WebhooksOnly             // REPLICATION_ENABLED=false: webhooks announce them, the catch-up backs them up
)

func (m Mode) String() string {
	switch m {
	case Replication:
		return "replication"
	case WebhooksOnly:
		return "webhooks only"
	}
	return "both modes"
}

// checkResult is one line of the checklist. A warning is OK (the mode works) but says
// what to act on.
type checkResult struct {
	Name   string
	Mode   Mode
	OK     bool
	Warn   bool
	Detail string
	Fix    string // set when !OK or Warn: what to run or change
}

// evaluate runs every check over f. It is pure so tests can inject facts that
// cannot be produced on a shared server.
func evaluate(f *inspect.Facts, opt Options) []checkResult {
	var out []checkResult
	add := func(m Mode, rs ...checkResult) {
		for _, r := range rs {
			r.Mode = m
			out = append(out, r)
		}
	}
	add(Both,
		checkSession(f, opt),
		checkMigrations(f, opt),
		checkChangeRecord(f),
		checkAccess("change record access", f, change.Records, f.Changes, inspect.ChangesPrivileges),
		checkMediaGuard(f, mediaguard.GuardedColumns()))
	add(Replication,
		checkWALLevel(f),
		checkSlotsFree(f, opt),
		checkSendersFree(f, opt),
		checkRole(f),
		checkReplicationConnection(f, opt))
	for _, w := range replication.Publications(opt.Publication) {
		add(Replication, checkPublication(f, w))
	}
	add(Replication,
		checkReplicaIdentity(f),
		checkAccess("slot memory access", f, inspect.SlotMemory, f.SlotMemory, inspect.SlotMemoryPrivileges),
		checkSlot(f, opt),
		checkSlotLag(f, opt),
		checkWALKeep(f, opt))
	add(WebhooksOnly, checkWebhook(f, opt))
	return out
}

// missingFor names the failed checks that keep mode m from working: its own and
// those both modes need. Empty means the mode is ready.
func missingFor(results []checkResult, m Mode) []string {
	return names(results, m, func(r checkResult) bool { return !r.OK })
}

// warningsFor names the checks of mode m (and of both) that passed with a warning.
func warningsFor(results []checkResult, m Mode) []string {
	return names(results, m, func(r checkResult) bool { return r.OK && r.Warn })
}

func names(results []checkResult, m Mode, pick func(checkResult) bool) []string {
	var out []string
	for _, r := range results {
		if (r.Mode == Both || r.Mode == m) && pick(r) {
			out = append(out, r.Name)
		}
	}
	return out
}

func pass(name, detail string) checkResult { return checkResult{Name: name, OK: true, Detail: detail} }
func warn(name, detail, fix string) checkResult {
	return checkResult{Name: name, OK: true, Warn: true, Detail: detail, Fix: fix}
}
func fail(name, detail, fix string) checkResult {
	return checkResult{Name: name, Detail: detail, Fix: fix}
}

const push = `supabase db push --remote="$DATABASE_URL"`

// checkSession refuses a connection without session state, a transaction pooler:
// the sidecar's prepared statements and its leader lock belong to a session, which
// a transaction pooler hands to someone else after every transaction. Supabase's
// transaction pooler is refused by its port; any other connection by what
// sessioncheck's probe saw. The session pooler is fine for webhooks only; the
// replication connection is refused by any pooler (see there).
func checkSession(f *inspect.Facts, opt Options) checkResult {
	const name = "session connection"
	if u, err := url.Parse(opt.DatabaseURL); err == nil {
		if port, err := strconv.ParseUint(u.Port(), 10, 16); err == nil {
			if refusal := sessioncheck.ByPort(uint16(port)); refusal != nil {
				return fail(name, refusal.Evidence, sessioncheck.Fix)
			}
		}
	}
	s := f.Session
	switch {
	case f.SessionErr != nil:
		return fail(name, "cannot tell whether the connection keeps session state: "+oneLine(f.SessionErr),
			"make sure the database answers within "+sessioncheck.Timeout.String()+"; the sidecar refuses to start without knowing")
	case s == nil:
		return fail(name, "not probed", "run doctor again")
	case !s.Session:
		return fail(name, "a transaction pooler, a connection without session state: "+s.Evidence, sessioncheck.Fix)
	case s.BehindPooler || opt.viaPooler():
		return pass(name, fmt.Sprintf("session state persists (probed in %s), behind a pooler that keeps sessions: webhooks only "+
			"(no pooler carries replication)", s.Took.Round(time.Millisecond)))
	}
	return pass(name, fmt.Sprintf("session state persists (probed in %s), not behind a pooler", s.Took.Round(time.Millisecond)))
}

// checkChangeRecord looks for sidecar.changes and the triggers that write it. The
// migrations name a recorded table's triggers <table>_record_<what>; its updates are
// recorded by the trigger the catalogue names (change.Table.UpdateRecorder: the
// talent state machine's for talent_profiles), whose function must write records,
// and its deletes by that trigger or by <table>_record_delete.
func checkChangeRecord(f *inspect.Facts) checkResult {
	const name = "change record"
	switch {
	case f.RecordedErr != nil:
		return fail(name, f.RecordedErr.Error(), "run doctor with the role the sidecar uses")
	case f.AccessErr != nil:
		return fail(name, f.AccessErr.Error(), "run doctor with the role the sidecar uses")
	}
	var missing, disabled, fixes []string
	if f.Changes == nil {
		missing = append(missing, change.Records.QualifiedName())
	}
	count := 0
	for _, t := range change.Catalogue {
		if !t.Recorded {
			continue
		}
		table := t.QualifiedName()
		triggers, ok := f.Recorded[table]
		if !ok {
			missing = append(missing, table)
			continue
		}
		recorder := t.UpdateRecorder()
		var found, changes, deletes bool
		for _, tg := range triggers {
			count++
			if tg.Name == recorder {
				found, changes = true, tg.RecordsUpdates
			}
			deletes = deletes || (tg.Enabled && tg.Delete)
			if !tg.Enabled {
				disabled = append(disabled, tg.Name+" on "+table)
				fixes = append(fixes, fmt.Sprintf("alter table %s enable trigger %s;", table, tg.Name))
			}
		}
		switch {
		case !found:
			missing = append(missing, "trigger "+recorder+" on "+table)
		case !changes:
			missing = append(missing, "the change record of updates on "+table+" (trigger "+recorder+"'s function writes none)")
		case !deletes:
			missing = append(missing, "trigger "+t.Name+"_record_delete on "+table)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing "+strings.Join(missing, ", "))
		fixes = append([]string{push + " (migrations/*_change_record.sql and *_record_in_state_machine.sql make them; " +
			"when every migration is applied they were dropped by hand: re-create them as those migrations do)"}, fixes...)
	}
	if len(disabled) > 0 {
		problems = append(problems, "disabled: "+strings.Join(disabled, ", "))
	}
	if len(problems) > 0 {
		return fail(name, strings.Join(problems, "; ")+" (changes there would never reach the sidecar, whichever the input)",
			strings.Join(fixes, " "))
	}
	return pass(name, fmt.Sprintf("%s, written by %d triggers", change.Records.QualifiedName(), count))
}

// checkMediaGuard looks for the base64 guard's triggers: on each guarded table,
// enabled BEFORE … FOR EACH ROW triggers that run private.<table>_media_guard on
// INSERT and on an UPDATE of any guarded column (migration 20261203210000 makes one
// trigger, UPDATE OF the guarded columns). The sidecar works without them, so a gap
// is a warning, not a failure: Postgres then stores what the guard would refuse,
// until the sidecar's media check or `sidecar media scan` finds it.
func checkMediaGuard(f *inspect.Facts, guarded map[string][]string) checkResult {
	const name = "media guard"
	if f.GuardsErr != nil {
		return warn(name, f.GuardsErr.Error(), "run doctor with the role the sidecar uses")
	}
	tables := make([]string, 0, len(guarded))
	for t := range guarded {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var problems, fixes, found []string
	for _, t := range tables {
		table, function := "public."+t, "private."+t+"_media_guard"
		var seen, disabled, onInsert, onAnyUpdate bool
		updated := map[string]bool{} // columns an update of which fires the guard
		for _, g := range f.Guards {
			switch {
			case g.Table != table || g.Function != function:
				continue
			case !g.Enabled:
				disabled = true
				problems = append(problems, fmt.Sprintf("trigger %s on %s is disabled", g.Name, table))
				fixes = append(fixes, fmt.Sprintf("alter table %s enable trigger %s;", table, g.Name))
				continue
			case !g.BeforeRow:
				continue
			}
			seen = true
			found = append(found, g.Name+" on "+table)
			onInsert = onInsert || g.Insert
			if g.Update {
				onAnyUpdate = onAnyUpdate || len(g.Columns) == 0
				for _, c := range g.Columns {
					updated[c] = true
				}
			}
		}
		if !seen {
			if !disabled { // a disabled trigger was named above, with its fix
				problems = append(problems, fmt.Sprintf("no enabled BEFORE … FOR EACH ROW trigger on %s runs %s", table, function))
			}
			continue
		}
		if !onInsert {
			problems = append(problems, fmt.Sprintf("an INSERT into %s does not run %s", table, function))
		}
		var missed []string
		for _, c := range guarded[t] {
			if !onAnyUpdate && !updated[c] {
				missed = append(missed, c)
			}
		}
		if len(missed) > 0 {
			problems = append(problems, fmt.Sprintf("an UPDATE of %s on %s does not run %s", strings.Join(missed, ", "), table, function))
		}
	}
	if len(problems) > 0 {
		fixes = append([]string{push + " (migrations/*_media_guard_update_of.sql makes the triggers; when every migration is " +
			"applied they were changed by hand: re-create them as it does)"}, fixes...)
		return warn(name, strings.Join(problems, "; ")+" (the database would store base64 media the guard refuses)",
			strings.Join(fixes, " "))
	}
	return pass(name, strings.Join(found, ", "))
}

// checkAccess checks what the sidecar does with one of its own tables. Both tables
// have row level security on and no policy, so a role that does not bypass it
// reads nothing and may write nothing, whatever its grants.
func checkAccess(name string, f *inspect.Facts, table change.Table, a *inspect.TableAccess, privileges []string) checkResult {
	qualified := table.QualifiedName()
	if f.AccessErr != nil {
		return fail(name, f.AccessErr.Error(), "run doctor with the role the sidecar uses")
	}
	if a == nil {
		return fail(name, qualified+" does not exist", push)
	}
	role := quoteIdent(f.Role)
	var lacking, fixes []string
	if !a.SchemaUsage {
		lacking = append(lacking, "USAGE on schema "+table.Schema)
		fixes = append(fixes, fmt.Sprintf("grant usage on schema %s to %s;", table.Schema, role))
	}
	var grants []string
	for _, p := range privileges {
		if !a.Privileges[p] {
			lacking = append(lacking, p)
			grants = append(grants, strings.ToLower(strings.Replace(p, "(", " (", 1)))
		}
	}
	if len(grants) > 0 {
		fixes = append(fixes, fmt.Sprintf("grant %s on table %s to %s;", strings.Join(grants, ", "), qualified, role))
	}
	var problems []string
	if len(lacking) > 0 {
		problems = append(problems, fmt.Sprintf("role %s lacks %s on %s", f.Role, strings.Join(lacking, ", "), qualified))
	}
	if a.RLSApplies {
		problems = append(problems, fmt.Sprintf("row level security hides every row of %s from %s (neither superuser, BYPASSRLS nor owner)", qualified, f.Role))
		fixes = append(fixes, fmt.Sprintf("alter role %s bypassrls; (as a superuser)", role))
	}
	if len(problems) > 0 {
		return fail(name, strings.Join(problems, "; "), strings.Join(fixes, " ")+
			fmt.Sprintf(". The migrations grant the privileges to service_role, so grant service_role to %s; gives them too; "+
				"BYPASSRLS is the role's own attribute", role))
	}
	held := make([]string, len(privileges))
	for i, p := range privileges {
		held[i] = strings.ToLower(p)
	}
	return pass(name, fmt.Sprintf("%s may %s %s", f.Role, strings.Join(held, ", "), qualified))
}

func checkWALLevel(f *inspect.Facts) checkResult {
	const name = "wal_level = logical"
	if f.SettingsErr != nil {
		return fail(name, "cannot read pg_settings: "+f.SettingsErr.Error(), "run doctor with the role the sidecar uses on the primary")
	}
	v := f.Settings["wal_level"]
	if v == "logical" {
		return pass(name, "logical")
	}
	return fail(name, fmt.Sprintf("wal_level is %q; logical decoding needs 'logical'", v),
		"self-hosted: alter system set wal_level = logical; then restart Postgres. "+
			"Hosted Supabase projects run with wal_level = logical already: check that DATABASE_URL points at the project's primary")
}

func settingInt(f *inspect.Facts, name string) (int, bool) {
	n, err := strconv.Atoi(f.Settings[name])
	return n, err == nil
}

// capacity compares the limit a max_* setting sets with what is in use (slots, WAL
// senders): the detail both capacity checks print and how many are free, or the
// failed checkResult when it cannot tell.
func capacity(f *inspect.Facts, name, setting, what string, used int) (detail string, free int, failed *checkResult) {
	max, ok := settingInt(f, setting)
	if f.SettingsErr != nil || f.UsageErr != nil || !ok {
		r := fail(name, fmt.Sprintf("cannot count %s: %v", what, firstErr(f.SettingsErr, f.UsageErr)), "run doctor with the role the sidecar uses")
		return "", 0, &r
	}
	free = max - used
	return fmt.Sprintf("%d of %d in use, %d free", used, max, free), free, nil
}

func checkSlotsFree(f *inspect.Facts, opt Options) checkResult {
	const name = "replication slots available"
	detail, free, failed := capacity(f, name, "max_replication_slots", "slots", f.SlotsUsed)
	if failed != nil {
		return *failed
	}
	if f.Slot != nil && f.Slot.WALStatus != "lost" {
		return pass(name, detail+fmt.Sprintf("; slot %s already exists", opt.Slot))
	}
	if free >= 1 || f.Slot != nil { // a lost slot is dropped before it is made anew
		return pass(name, detail)
	}
	return fail(name, detail+fmt.Sprintf("; slot %s does not exist and none is free to create it", opt.Slot),
		"drop an abandoned slot (select slot_name, active, wal_status from pg_replication_slots; select pg_drop_replication_slot('<name>');) "+
			"or raise max_replication_slots (restart; hosted: supabase postgres-config update --project-ref <ref> --config max_replication_slots=<n>)")
}

func checkSendersFree(f *inspect.Facts, opt Options) checkResult {
	const name = "WAL senders available"
	detail, free, failed := capacity(f, name, "max_wal_senders", "WAL senders", f.SendersUsed)
	if failed != nil {
		return *failed
	}
	if f.Slot != nil && f.Slot.Active {
		return pass(name, detail+"; the sidecar's slot is streaming now")
	}
	if free >= 1 {
		return pass(name, detail)
	}
	return fail(name, detail+"; the sidecar needs one to stream",
		"find idle replication consumers (select pid, application_name, client_addr from pg_stat_replication) and stop them, "+
			"or raise max_wal_senders (restart; hosted: supabase postgres-config update --project-ref <ref> --config max_wal_senders=<n>)")
}

func checkRole(f *inspect.Facts) checkResult {
	const name = "role has REPLICATION"
	if f.RoleErr != nil {
		return fail(name, "cannot read pg_roles: "+f.RoleErr.Error(), "run doctor with the role the sidecar uses")
	}
	switch {
	case f.RoleSuper:
		return pass(name, fmt.Sprintf("%s is a superuser", f.Role))
	case f.RoleReplication:
		return pass(name, fmt.Sprintf("%s has REPLICATION", f.Role))
	}
	return fail(name, fmt.Sprintf("role %s has neither REPLICATION nor SUPERUSER", f.Role),
		fmt.Sprintf("alter role %s with replication; (as a superuser; on hosted Supabase use the postgres role, "+
			"which has REPLICATION, or on Postgres 17+ grant it from postgres), or run with REPLICATION_ENABLED=false (webhooks only)", quoteIdent(f.Role)))
}

func checkReplicationConnection(f *inspect.Facts, opt Options) checkResult {
	const name = "replication connection"
	if f.ReplicationErr == nil {
		return pass(name, "IDENTIFY_SYSTEM over replication=database works")
	}
	fix := "use the direct connection (db.<ref>.supabase.co:5432), not the pooler; " +
		"self-hosted: allow it in pg_hba.conf (logical replication connections match ordinary database lines)"
	switch {
	case f.RoleErr == nil && !f.RoleSuper && !f.RoleReplication:
		fix = "give the role REPLICATION (see \"role has REPLICATION\")"
	case opt.viaPooler() || (f.Session != nil && f.Session.BehindPooler):
		fix = "DATABASE_URL points at a connection pooler (port 6543 or *.pooler.supabase.com, or the session check saw one), which cannot carry replication: " +
			"use the direct connection postgresql://postgres:<password>@db.<ref>.supabase.co:5432/postgres, " +
			"or run with REPLICATION_ENABLED=false (webhooks only)"
	}
	return fail(name, oneLine(f.ReplicationErr), fix)
}

// checkPublication compares a publication with what EnsurePublication makes. A
// missing or different one passes when the role may create or correct it, as the
// sidecar then does at start; a different one is still worth a warning, since
// something other than this release made it so.
func checkPublication(f *inspect.Facts, w replication.Publication) checkResult {
	name := "publication " + w.Name
	ident := quoteIdent(w.Name)
	list := strings.Join(w.Tables, ", ")
	create := fmt.Sprintf("create publication %s for table %s with (publish = '%s');", ident, list, w.Publish)
	if f.PublicationErr != nil {
		return fail(name, f.PublicationErr.Error(), "run doctor with the role the sidecar uses")
	}
	ownsAll := true
	for _, t := range w.Tables {
		ownsAll = ownsAll && f.Owns[t]
	}
	p := f.Publications[w.Name]
	if p == nil {
		if f.RoleSuper || (f.CanCreate && ownsAll) {
			return pass(name, "does not exist yet; the sidecar creates it at start")
		}
		return fail(name, fmt.Sprintf("does not exist, and role %s may not create it (that needs CREATE on the database and owning %s)", f.Role, list),
			create+" (as the tables' owner, e.g. postgres)")
	}

	var missing, extra, filtered []string
	stale := false
	for _, t := range w.Tables {
		pt, ok := p.Tables[t]
		switch {
		case !ok:
			missing = append(missing, t)
		case pt.RowFilter || pt.ColumnList:
			filtered = append(filtered, t)
		}
	}
	records := slices.Contains(w.Tables, change.Records.QualifiedName())
	for t := range p.Tables {
		if slices.Contains(w.Tables, t) {
			continue
		}
		extra = append(extra, t)
		// Watched tables in the records' publication: what releases before the
		// change record published.
		if schema, table, _ := strings.Cut(t, "."); records {
			_, watched := change.Lookup(schema, table)
			stale = stale || watched
		}
	}
	sort.Strings(extra)
	publishes := strings.Join(slices.DeleteFunc([]string{
		ifThen(p.Insert, "insert"), ifThen(p.Update, "update"), ifThen(p.Delete, "delete"), ifThen(p.Truncate, "truncate"),
	}, func(s string) bool { return s == "" }), ", ")

	var problems, fixes []string
	if p.AllTables {
		problems = append(problems, "publishes FOR ALL TABLES")
		fixes = append(fixes, fmt.Sprintf("drop publication %s;", ident), create)
	} else {
		if len(missing) > 0 {
			problems = append(problems, "missing "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			problems = append(problems, "also publishes "+strings.Join(extra, ", "))
		}
		if len(filtered) > 0 {
			problems = append(problems, "row filter or column list on "+strings.Join(filtered, ", ")+" (the sidecar needs whole rows)")
		}
		if len(missing)+len(extra)+len(filtered) > 0 {
			fixes = append(fixes, fmt.Sprintf("alter publication %s set table %s;", ident, list))
		}
	}
	if publishes != w.Publish {
		problems = append(problems, fmt.Sprintf("publishes %q, not %q", publishes, w.Publish))
		if !p.AllTables {
			fixes = append(fixes, fmt.Sprintf("alter publication %s set (publish = '%s');", ident, w.Publish))
		}
	}
	if len(problems) == 0 {
		return pass(name, fmt.Sprintf("publishes %s of %s", w.Publish, list))
	}
	detail := strings.Join(problems, "; ")
	if stale {
		detail += " (the shape of a release before the change record, which published the watched tables themselves)"
	}
	// EnsurePublication sets the tables when their names differ and the operations
	// when they differ: it cannot change a FOR ALL TABLES publication, and leaves a
	// filter on the right tables alone.
	corrects := !p.AllTables && (f.RoleSuper || (p.Owned && ownsAll)) &&
		(len(filtered) == 0 || len(missing)+len(extra) > 0)
	if corrects {
		return warn(name, detail+"; the sidecar corrects it at start", strings.Join(fixes, " "))
	}
	return fail(name, detail, strings.Join(fixes, " ")+" (as the publication's owner, e.g. postgres)")
}

func ifThen(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

var identityNames = map[string]string{"d": "DEFAULT", "n": "NOTHING", "f": "FULL", "i": "USING INDEX"}

// checkReplicaIdentity: the guarded tables stream their updates to the media
// guard, which compares the new row with the old one (and takes unchanged TOASTed
// values from it); only REPLICA IDENTITY FULL sends the whole old row.
func checkReplicaIdentity(f *inspect.Facts) checkResult {
	const name = "REPLICA IDENTITY FULL"
	if f.ReplicaIdentityErr != nil {
		return fail(name, f.ReplicaIdentityErr.Error(), "run doctor with the role the sidecar uses")
	}
	guarded := change.Guarded()
	var bad, fixes []string
	for _, t := range guarded {
		ident, ok := f.ReplicaIdentity[t]
		switch {
		case !ok:
			bad = append(bad, t+" does not exist")
			fixes = append(fixes, "apply the migrations: "+push)
		case ident != "f":
			bad = append(bad, fmt.Sprintf("%s is %s", t, identityNames[ident]))
			fixes = append(fixes, fmt.Sprintf("alter table %s replica identity full;", t))
		}
	}
	if len(bad) == 0 {
		return pass(name, fmt.Sprintf("all %d guarded tables", len(guarded)))
	}
	return fail(name, strings.Join(bad, "; ")+" (streamed updates would lack the old row the media guard compares with)",
		strings.Join(dedupe(fixes), " ")+" (the migrations set this; a database that lost it was changed by hand)")
}

func checkMigrations(f *inspect.Facts, opt Options) checkResult {
	const name = "migrations applied"
	switch {
	case f.HistoryErr != nil:
		return fail(name, f.HistoryErr.Error(),
			"run doctor as the postgres role, or: grant usage on schema supabase_migrations to <role>; grant select on supabase_migrations.schema_migrations to <role>;")
	case f.HistoryMissing:
		return fail(name, "supabase_migrations.schema_migrations does not exist: no migration was pushed with the Supabase CLI", push)
	}
	var missing []string
	known := map[string]bool{}
	for _, v := range opt.Migrations {
		known[v] = true
		if !f.Applied[v] {
			missing = append(missing, v)
		}
	}
	var unknown int
	for v := range f.Applied {
		if !known[v] {
			unknown++
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		fix := push
		if newest := newestApplied(f.Applied); newest > missing[0] {
			fix += " --include-all (a missing version is older than the newest applied one, " + newest + ")"
		}
		return fail(name, fmt.Sprintf("%d of %d not applied: %s", len(missing), len(opt.Migrations), strings.Join(missing, ", ")), fix)
	}
	detail := fmt.Sprintf("all %d applied", len(opt.Migrations))
	if unknown > 0 {
		detail += fmt.Sprintf("; %d applied versions are unknown to this build (is this binary older than the database?)", unknown)
	}
	return pass(name, detail)
}

func newestApplied(applied map[string]bool) string {
	var newest string
	for v := range applied {
		if v > newest {
			newest = v
		}
	}
	return newest
}

// checkSlot: a missing or lost slot is made anew by the sidecar at start, and the
// catch-up applies the change records written in the gap, so either only warns
// when this database had the slot before (the sidecar logs it at error level).
func checkSlot(f *inspect.Facts, opt Options) checkResult {
	name := "replication slot " + opt.Slot
	if f.SlotErr != nil {
		return fail(name, f.SlotErr.Error(), "run doctor with the role the sidecar uses")
	}
	canCreate := f.RoleSuper || f.RoleReplication
	cannot := "this role cannot create it (no REPLICATION)"
	gap := "the sidecar creates it anew at start, logs the loss at error level and counts it, and the catch-up applies the change records of the gap"
	runbook := "nothing is lost; find out why (deploy/RUNBOOK.md, lost slot)"
	s := f.Slot
	if s == nil {
		switch {
		case !canCreate:
			return fail(name, "does not exist and "+cannot, "see \"role has REPLICATION\"")
		case f.SlotRemembered:
			return warn(name, "lost: missing, though this database had it (dropped, or not carried over by a failover); "+gap, runbook)
		}
		return pass(name, "does not exist yet; the sidecar creates it at start (the catch-up applies records written before)")
	}
	drop := fmt.Sprintf("stop every sidecar, then: select pg_drop_replication_slot('%s'); the sidecar recreates it at start "+
		"(the catch-up applies the change records written in between)", opt.Slot)
	switch {
	case s.SlotType != "logical":
		return fail(name, "is a "+s.SlotType+" slot, not logical", "choose another REPLICATION_SLOT, or "+drop)
	case s.Plugin != "pgoutput":
		return fail(name, fmt.Sprintf("uses plugin %q, not pgoutput", s.Plugin), drop)
	case s.Database != f.Database:
		return fail(name, fmt.Sprintf("belongs to database %q, not %q", s.Database, f.Database),
			"choose another REPLICATION_SLOT for this database (slot names are cluster-wide)")
	case s.WALStatus == "lost":
		lost := "lost: wal_status = lost, the server removed WAL the slot still needed (max_slot_wal_keep_size exceeded)"
		if !canCreate {
			return fail(name, lost+", and "+cannot+" anew", drop)
		}
		return warn(name, lost+"; "+gap, runbook+"; keep a sidecar streaming, or raise max_slot_wal_keep_size if it fell behind while running")
	}
	state := "inactive (no sidecar is streaming)"
	if s.Active {
		state = "active"
	}
	detail := fmt.Sprintf("pgoutput, %s", state)
	if s.WALStatus != "" {
		detail += ", wal_status " + s.WALStatus
	}
	return pass(name, detail)
}

func checkSlotLag(f *inspect.Facts, opt Options) checkResult {
	const name = "slot lag"
	s := f.Slot
	if f.SlotErr != nil || s == nil {
		return pass(name, "no slot yet")
	}
	if s.WALStatus == "lost" {
		return pass(name, "the slot is lost: nothing to measure")
	}
	if s.LagErr != nil {
		return fail(name, "cannot compute lag: "+s.LagErr.Error(),
			"connect to the primary (pg_current_wal_lsn() fails on a standby)")
	}
	detail := fmt.Sprintf("%s behind (threshold %s)", FormatBytes(s.LagBytes), FormatBytes(opt.MaxLagBytes))
	if s.LagBytes <= opt.MaxLagBytes {
		return pass(name, detail)
	}
	fix := "the slot is not being confirmed: check that a sidecar holds the lock and streams " +
		"(sidecar logs, /readyz, the replication lag metric); it confirms after each committed batch"
	if !s.Active {
		fix = "no sidecar is streaming from the slot: start one (bin/sidecar); if the deployment is gone for good, " +
			"drop the slot so it stops retaining WAL (deploy/RUNBOOK.md, decommissioning)"
	}
	return fail(name, detail, fix)
}

func checkWALKeep(f *inspect.Facts, opt Options) checkResult {
	const name = "max_slot_wal_keep_size set"
	if f.SettingsErr != nil {
		return fail(name, "cannot read pg_settings: "+f.SettingsErr.Error(), "run doctor with the role the sidecar uses")
	}
	v := f.Settings["max_slot_wal_keep_size"]
	mb, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fail(name, fmt.Sprintf("unexpected value %q", v), "check pg_settings")
	}
	fix := "self-hosted: alter system set max_slot_wal_keep_size = '4GB'; select pg_reload_conf(); " +
		"hosted Supabase: supabase postgres-config update --project-ref <ref> --config max_slot_wal_keep_size=4GB " +
		"(size it below the free disk; a slot that exceeds it is invalidated instead of filling the disk)"
	if mb < 0 {
		return fail(name, "-1 (unlimited): a stopped sidecar's slot retains WAL until the disk is full", fix)
	}
	detail := FormatBytes(mb << 20)
	if opt.MaxLagBytes > mb<<20 {
		detail += fmt.Sprintf("; note: the lag threshold %s is above it, so the slot can be lost before this check fails",
			FormatBytes(opt.MaxLagBytes))
	}
	return pass(name, detail)
}

// checkWebhook looks for the webhook register-webhooks.sql makes. It never fails:
// webhooks are notices, and without them the catch-up still applies every change,
// later. With replication they are optional; with webhooks only, a missing one
// costs latency.
func checkWebhook(f *inspect.Facts, opt Options) checkResult {
	const name = "webhook registered"
	records := change.Records.QualifiedName()
	register := `psql "$DATABASE_URL" -v sidecar_url=https://<sidecar host> -v webhook_secret="$WEBHOOK_SECRET" ` +
		"-f deploy/supabase/register-webhooks.sql"
	latency := "each change waits for the next catch-up (CATCHUP_INTERVAL, 5s by default); nothing is lost"
	if f.WebhooksErr != nil {
		return warn(name, f.WebhooksErr.Error(), "run doctor with the role the sidecar uses")
	}
	var on *inspect.Webhook
	var stale []string
	for i, w := range f.Webhooks {
		if w.Table == records {
			on = &f.Webhooks[i]
		} else {
			stale = append(stale, w.Table)
		}
	}
	var problems []string
	switch {
	case on == nil:
		if len(stale) == 0 && !opt.WebhooksOnly {
			return pass(name, "none on "+records+": optional while replication runs; with webhooks only, "+latency)
		}
		problems = append(problems, "no "+inspect.WebhookTrigger+" trigger on "+records+": without it "+latency)
	case !on.Enabled:
		problems = append(problems, inspect.WebhookTrigger+" on "+records+" is disabled: "+latency)
	case !on.Insert:
		problems = append(problems, inspect.WebhookTrigger+" on "+records+" does not fire on insert: "+latency)
	case on.Function != "supabase_functions.http_request":
		problems = append(problems, fmt.Sprintf("%s on %s executes %s, not supabase_functions.http_request", inspect.WebhookTrigger, records, on.Function))
	}
	if len(stale) > 0 {
		problems = append(problems, "also on "+strings.Join(stale, ", ")+
			" (a release before the change record): those deliveries announce nothing the record does not")
	}
	if len(problems) > 0 {
		return warn(name, strings.Join(problems, "; "), register+" (it also removes the old ones)")
	}
	return pass(name, "on "+records+", posting to "+safeURL(on.URL))
}

// safeURL shows a webhook's address without anything that could be a credential.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "an address that is not a URL"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// oneLine renders a driver error on one line: the server's own message when there
// is one (pgx lists every connection attempt, e.g. the refused TLS one, otherwise).
func oneLine(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("server said: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return fmt.Errorf("unexpected setting value")
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// quoteIdent quotes a role or object name for the SQL shown in a fix.
func quoteIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
