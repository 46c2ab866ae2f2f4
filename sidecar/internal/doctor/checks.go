package doctor

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// RequiredTables are the tables the sidecar consumes. Each must be in the
// publication with REPLICA IDENTITY FULL so updates and deletes carry the old row.
var RequiredTables = []string{
	"public.talent_profiles",
	"public.onboarding_progress",
	"public.email_settings",
	"public.email_templates",
}

// Result is one line of the checklist.
type Result struct {
	Name   string
	OK     bool
	Detail string
	Fix    string // set when !OK: what to run or change
}

// Evaluate runs every check over f. It is pure so tests can inject facts that
// cannot be produced on a shared server.
func Evaluate(f *Facts, opt Options) []Result {
	return []Result{
		checkWALLevel(f),
		checkSlotsFree(f, opt),
		checkSendersFree(f, opt),
		checkRole(f),
		checkReplicationConnection(f, opt),
		checkPublication(f, opt),
		checkReplicaIdentity(f),
		checkMigrations(f, opt),
		checkSlot(f, opt),
		checkSlotLag(f, opt),
		checkWALKeep(f, opt),
	}
}

func pass(name, detail string) Result { return Result{Name: name, OK: true, Detail: detail} }
func fail(name, detail, fix string) Result {
	return Result{Name: name, Detail: detail, Fix: fix}
}

func checkWALLevel(f *Facts) Result {
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

func settingInt(f *Facts, name string) (int, bool) {
	n, err := strconv.Atoi(f.Settings[name])
	return n, err == nil
}

func checkSlotsFree(f *Facts, opt Options) Result {
	const name = "replication slots available"
	max, ok := settingInt(f, "max_replication_slots")
	if f.SettingsErr != nil || f.UsageErr != nil || !ok {
		return fail(name, fmt.Sprintf("cannot count slots: %v", firstErr(f.SettingsErr, f.UsageErr)), "run doctor with the role the sidecar uses")
	}
	free := max - f.SlotsUsed
	detail := fmt.Sprintf("%d of %d in use, %d free", f.SlotsUsed, max, free)
	if f.Slot != nil {
		return pass(name, detail+fmt.Sprintf("; slot %s already exists", opt.Slot))
	}
	if free >= 1 {
		return pass(name, detail)
	}
	return fail(name, detail+fmt.Sprintf("; slot %s does not exist and none is free to create it", opt.Slot),
		"drop an abandoned slot (select slot_name, active, wal_status from pg_replication_slots; select pg_drop_replication_slot('<name>');) "+
			"or raise max_replication_slots (restart; hosted: supabase postgres-config update --project-ref <ref> --config max_replication_slots=<n>)")
}

func checkSendersFree(f *Facts, opt Options) Result {
	const name = "WAL senders available"
	max, ok := settingInt(f, "max_wal_senders")
	if f.SettingsErr != nil || f.UsageErr != nil || !ok {
		return fail(name, fmt.Sprintf("cannot count WAL senders: %v", firstErr(f.SettingsErr, f.UsageErr)), "run doctor with the role the sidecar uses")
	}
	free := max - f.SendersUsed
	detail := fmt.Sprintf("%d of %d in use, %d free", f.SendersUsed, max, free)
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

func checkRole(f *Facts) Result {
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
			"which has REPLICATION, or on Postgres 17+ grant it from postgres)", quoteIdent(f.Role)))
}

func checkReplicationConnection(f *Facts, opt Options) Result {
	const name = "replication connection"
	if f.ReplicationErr == nil {
		return pass(name, "IDENTIFY_SYSTEM over replication=database works")
	}
	fix := "use the direct connection (db.<ref>.supabase.co:5432), not the pooler; " +
		"self-hosted: allow it in pg_hba.conf (logical replication connections match ordinary database lines)"
	switch {
	case f.RoleErr == nil && !f.RoleSuper && !f.RoleReplication:
		fix = "give the role REPLICATION (see \"role has REPLICATION\")"
	case opt.viaPooler():
		fix = "DATABASE_URL points at a connection pooler (port 6543 or *.pooler.supabase.com), which cannot carry replication: " +
			"use the direct connection postgresql://postgres:<password>@db.<ref>.supabase.co:5432/postgres"
	}
	return fail(name, oneLine(f.ReplicationErr), fix)
}

func checkPublication(f *Facts, opt Options) Result {
	name := "publication " + opt.Publication
	all := strings.Join(RequiredTables, ", ")
	if f.PublicationErr != nil {
		return fail(name, f.PublicationErr.Error(), "run doctor with the role the sidecar uses")
	}
	p := f.Publication
	if p == nil {
		return fail(name, "does not exist",
			fmt.Sprintf("create publication %s for table %s; (the sidecar also creates it at start when its role owns the tables)",
				quoteIdent(opt.Publication), all))
	}
	var missing, filtered []string
	for _, t := range RequiredTables {
		pt, ok := p.Tables[t]
		switch {
		case !ok:
			missing = append(missing, t)
		case pt.RowFilter || pt.ColumnList:
			filtered = append(filtered, t)
		}
	}
	var problems, fixes []string
	if len(missing) > 0 {
		problems = append(problems, "missing "+strings.Join(missing, ", "))
		fixes = append(fixes, fmt.Sprintf("alter publication %s add table %s;", quoteIdent(opt.Publication), strings.Join(missing, ", ")))
	}
	if len(filtered) > 0 {
		problems = append(problems, "row filter or column list on "+strings.Join(filtered, ", ")+" (the sidecar needs whole rows)")
		fixes = append(fixes, fmt.Sprintf("alter publication %s set table %s;", quoteIdent(opt.Publication), all))
	}
	if !p.Insert || !p.Update || !p.Delete {
		problems = append(problems, fmt.Sprintf("publishes insert=%t update=%t delete=%t", p.Insert, p.Update, p.Delete))
		fixes = append(fixes, fmt.Sprintf("alter publication %s set (publish = 'insert, update, delete, truncate');", quoteIdent(opt.Publication)))
	}
	if len(problems) > 0 {
		return fail(name, strings.Join(problems, "; "), strings.Join(fixes, " "))
	}
	detail := fmt.Sprintf("publishes all %d tables", len(RequiredTables))
	if extra := len(p.Tables) - len(RequiredTables); extra > 0 {
		detail += fmt.Sprintf(" (and %d other tables the sidecar ignores)", extra)
	}
	return pass(name, detail)
}

var identityNames = map[string]string{"d": "DEFAULT", "n": "NOTHING", "f": "FULL", "i": "USING INDEX"}

func checkReplicaIdentity(f *Facts) Result {
	const name = "REPLICA IDENTITY FULL"
	if f.ReplicaIdentityErr != nil {
		return fail(name, f.ReplicaIdentityErr.Error(), "run doctor with the role the sidecar uses")
	}
	var bad, fixes []string
	for _, t := range RequiredTables {
		ident, ok := f.ReplicaIdentity[t]
		switch {
		case !ok:
			bad = append(bad, t+" does not exist")
			fixes = append(fixes, "apply the migrations: supabase db push --db-url \"$DATABASE_URL\"")
		case ident != "f":
			bad = append(bad, fmt.Sprintf("%s is %s", t, identityNames[ident]))
			fixes = append(fixes, fmt.Sprintf("alter table %s replica identity full;", t))
		}
	}
	if len(bad) == 0 {
		return pass(name, fmt.Sprintf("all %d tables", len(RequiredTables)))
	}
	return fail(name, strings.Join(bad, "; ")+" (updates and deletes would lack the old row)",
		strings.Join(dedupe(fixes), " ")+" (the migrations set this; a database that lost it was changed by hand)")
}

func checkMigrations(f *Facts, opt Options) Result {
	const name = "migrations applied"
	push := "supabase db push --db-url \"$DATABASE_URL\""
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

func checkSlot(f *Facts, opt Options) Result {
	name := "replication slot " + opt.Slot
	if f.SlotErr != nil {
		return fail(name, f.SlotErr.Error(), "run doctor with the role the sidecar uses")
	}
	s := f.Slot
	if s == nil {
		if f.RoleSuper || f.RoleReplication {
			return pass(name, "does not exist yet; the sidecar creates it at start (changes committed before that are not streamed)")
		}
		return fail(name, "does not exist and this role cannot create it (no REPLICATION)", "see \"role has REPLICATION\"")
	}
	drop := fmt.Sprintf("stop every sidecar, then: select pg_drop_replication_slot('%s'); the sidecar recreates it at start "+
		"(changes in between are not streamed: re-send them, see deploy/RUNBOOK.md)", opt.Slot)
	switch {
	case s.SlotType != "logical":
		return fail(name, "is a "+s.SlotType+" slot, not logical", "choose another REPLICATION_SLOT, or "+drop)
	case s.Plugin != "pgoutput":
		return fail(name, fmt.Sprintf("uses plugin %q, not pgoutput", s.Plugin), drop)
	case s.Database != f.Database:
		return fail(name, fmt.Sprintf("belongs to database %q, not %q", s.Database, f.Database),
			"choose another REPLICATION_SLOT for this database (slot names are cluster-wide)")
	case s.WALStatus == "lost":
		return fail(name, "wal_status = lost: the server removed WAL the slot still needed (max_slot_wal_keep_size exceeded); the slot cannot stream", drop)
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

func checkSlotLag(f *Facts, opt Options) Result {
	const name = "slot lag"
	s := f.Slot
	if f.SlotErr != nil || s == nil {
		return pass(name, "no slot yet")
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

func checkWALKeep(f *Facts, opt Options) Result {
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
