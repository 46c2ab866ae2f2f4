// Package inspect reads, in one pass, everything doctor judges about a target
// database: settings, the role, publications, replica identities, the change
// record's triggers and tables, webhooks, the media guard's triggers, the migration
// history, the slot, and whether a replication connection opens. It only reads, and
// records a failed read in the field it was for, so doctor's checks stay pure
// functions of Facts (and tests can inject facts a shared server cannot produce).
package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
	"github.com/talent-onboarding/backend/sidecar/internal/sessioncheck"
)

// Facts is everything the checks look at, read from the target database in one
// pass. Checks are pure functions of Facts, so a setting that cannot be changed on a
// shared server (wal_level, max_slot_wal_keep_size) is tested by injecting values.
// A field whose read failed carries the error instead, and its check fails with it.
type Facts struct {
	Database string // current_database()

	// Session is what sessioncheck.Probe found of the connection (nil when the URL
	// alone refused it, or when the probe failed with SessionErr).
	Session    *sessioncheck.Result
	SessionErr error

	// Settings holds pg_settings.setting by name (raw units, -1 for unlimited).
	Settings    map[string]string
	SettingsErr error

	SlotsUsed, SendersUsed int
	UsageErr               error

	Role                                      string
	RoleSuper, RoleReplication, RoleBypassRLS bool
	RoleErr                                   error

	// ReplicationErr is the result of opening a replication connection and
	// running IDENTIFY_SYSTEM, which is what the sidecar does first.
	ReplicationErr error

	// Publications holds the stream's publications (replication.Publications) by
	// name; a name that does not exist maps to nil.
	Publications   map[string]*Publication
	PublicationErr error
	// CanCreate: the role has CREATE on the database, which creating a publication
	// needs besides owning its tables. Owns maps each table a publication should
	// hold to whether the role has its owner's privileges.
	CanCreate bool
	Owns      map[string]bool

	// ReplicaIdentity maps each guarded table that exists to pg_class.relreplident
	// ('d' default, 'n' nothing, 'f' full, 'i' index).
	ReplicaIdentity    map[string]string
	ReplicaIdentityErr error

	// Recorded maps each recorded table of the catalogue that exists to the
	// triggers named <table>_record_* on it; Changes describes sidecar.changes and
	// SlotMemory sidecar.replication_slots (nil when missing).
	Recorded    map[string][]Trigger
	RecordedErr error
	Changes     *TableAccess
	SlotMemory  *TableAccess
	AccessErr   error

	// Webhooks lists every trigger named WebhookTrigger, on whatever table.
	Webhooks    []Webhook
	WebhooksErr error

	// Guards lists every trigger whose function is a media guard
	// (private.<table>_media_guard), on whatever table.
	Guards    []Guard
	GuardsErr error

	// Applied holds the versions in supabase_migrations.schema_migrations;
	// HistoryMissing is set when that table does not exist.
	Applied        map[string]bool
	HistoryMissing bool
	HistoryErr     error

	Slot    *Slot // nil when the slot does not exist
	SlotErr error
	// SlotRemembered: sidecar.replication_slots names the slot, so this database
	// had it before; a missing slot was then lost, not never made. False when
	// that table cannot be read.
	SlotRemembered bool
}

// Publication describes one of the sidecar's publications.
type Publication struct {
	AllTables                        bool
	Insert, Update, Delete, Truncate bool
	Owned                            bool                      // the role has its owner's privileges (may alter it)
	Tables                           map[string]PublishedTable // "schema.table" -> details
}

// PublishedTable is one table of the publication.
type PublishedTable struct {
	RowFilter, ColumnList bool
}

// Trigger is one trigger: whether it fires (enabled for ordinary sessions)
// and on which operations.
type Trigger struct {
	Name                   string
	Enabled                bool
	Insert, Update, Delete bool
	// RecordsUpdates: it fires on updates and its function writes change records
	// (inserts into sidecar.changes, or calls a private.record_* function as the
	// talent state machine does).
	RecordsUpdates bool
}

// TableAccess is what the role may do with one of the sidecar's own tables.
// Privileges maps each privilege asked for ("SELECT", "UPDATE(processed_at)", …)
// to whether the role holds it.
type TableAccess struct {
	SchemaUsage bool
	Privileges  map[string]bool
	// RLS is on, and the role is subject to it: it is neither superuser nor
	// BYPASSRLS, nor the owner of a table that does not force it. The sidecar's
	// tables have RLS on and no policy, so such a role sees no row at all.
	RLSApplies bool
}

// Guard is one trigger that runs a media guard function.
type Guard struct {
	Table, Name, Function string // the table and the function schema-qualified
	Enabled               bool   // fires in ordinary sessions
	BeforeRow             bool   // BEFORE … FOR EACH ROW
	Insert, Update        bool
	// Columns are the UPDATE OF columns, sorted; empty when any update fires it.
	Columns []string
}

// Webhook is one trigger named WebhookTrigger.
type Webhook struct {
	Table           string // schema.table
	Enabled, Insert bool
	Function        string // schema.name of the function it executes
	URL             string // its first argument (the other arguments hold the secret: never read)
}

// Slot describes the sidecar's replication slot.
type Slot struct {
	Plugin, SlotType, Database string
	Active                     bool
	WALStatus                  string // reserved | extended | unreserved | lost ("" before PG 13)
	LagBytes                   int64  // pg_current_wal_lsn() - confirmed_flush_lsn
	LagErr                     error
}

// settingNames are read from pg_settings (readable by any role).
var settingNames = []string{"wal_level", "max_replication_slots", "max_wal_senders", "max_slot_wal_keep_size"}

// Privileges the sidecar uses on its own tables: the catch-up reads and prunes
// the change records and the pipeline claims them (a row lock needs an UPDATE
// privilege, which processed_at gives); EnsureSlot remembers its slot with an
// upsert that returns a value.
var (
	ChangesPrivileges    = []string{"SELECT", "UPDATE(processed_at)", "DELETE"}
	SlotMemoryPrivileges = []string{"SELECT", "INSERT", "UPDATE"}
)

// WebhookTrigger is the trigger deploy/supabase/register-webhooks.sql creates on
// the change record table.
const WebhookTrigger = "talent_sidecar_webhook"

// SlotMemory is where EnsureSlot remembers the slots it made.
var SlotMemory = change.Table{Schema: "sidecar", Name: "replication_slots"}

// Gather probes conn's configuration for session state (two connections of its
// own), reads the facts with conn (an ordinary connection) about the sidecar's slot
// and publication (the name REPLICATION_SLOT and PUBLICATION give) and tries a
// replication connection with replCfg (none when nil). It returns an error only
// when conn itself fails; every other failure is recorded in Facts.
func Gather(ctx context.Context, conn *pgx.Conn, replCfg *pgconn.Config, slot, publication string) (*Facts, error) {
	f := &Facts{Settings: map[string]string{}}
	// Supabase's transaction pooler is refused by its port alone (doctor's checkSession).
	if sessioncheck.ByPort(conn.Config().Port) == nil {
		if r, err := sessioncheck.Probe(ctx, conn.Config()); err != nil {
			f.SessionErr = err
		} else {
			f.Session = &r
		}
	}
	if err := conn.QueryRow(ctx, `select current_database(), current_user`).Scan(&f.Database, &f.Role); err != nil {
		return nil, fmt.Errorf("reading current database: %w", err)
	}

	f.SettingsErr = collect(ctx, conn, `select name, setting from pg_settings where name = any($1)`,
		[]any{settingNames}, func(r pgx.Rows) error {
			var n, v string
			if err := r.Scan(&n, &v); err != nil {
				return err
			}
			f.Settings[n] = v
			return nil
		})

	// Counted before our own replication connection below opens a WAL sender.
	f.UsageErr = conn.QueryRow(ctx, `select (select count(*) from pg_replication_slots),
		(select count(*) from pg_stat_activity where backend_type = 'walsender')`).Scan(&f.SlotsUsed, &f.SendersUsed)

	f.RoleErr = conn.QueryRow(ctx, `select rolsuper, rolreplication, rolbypassrls from pg_roles where rolname = current_user`).
		Scan(&f.RoleSuper, &f.RoleReplication, &f.RoleBypassRLS)

	f.Publications = map[string]*Publication{}
	for _, w := range replication.Publications(publication) {
		p, err := readPublication(ctx, conn, w.Name)
		if err != nil {
			f.PublicationErr = err
			break
		}
		f.Publications[w.Name] = p
	}
	if f.PublicationErr == nil {
		f.CanCreate, f.Owns, f.PublicationErr = readOwnership(ctx, conn)
	}
	f.ReplicaIdentity, f.ReplicaIdentityErr = readReplicaIdentity(ctx, conn)
	f.Recorded, f.RecordedErr = readRecordTriggers(ctx, conn)
	if f.Changes, f.AccessErr = readAccess(ctx, conn, change.Records, ChangesPrivileges); f.AccessErr == nil {
		f.SlotMemory, f.AccessErr = readAccess(ctx, conn, SlotMemory, SlotMemoryPrivileges)
	}
	f.Webhooks, f.WebhooksErr = readWebhooks(ctx, conn)
	f.Guards, f.GuardsErr = readGuards(ctx, conn)
	f.Applied, f.HistoryMissing, f.HistoryErr = readHistory(ctx, conn)
	f.Slot, f.SlotErr = readSlot(ctx, conn, slot)
	// Best effort: a role that may not read the table cannot have the slot
	// remembered either, and the access check says so.
	_ = conn.QueryRow(ctx, `select true from sidecar.replication_slots where slot_name = $1`, slot).Scan(&f.SlotRemembered)

	if replCfg != nil {
		f.ReplicationErr = identifySystem(ctx, replCfg)
	}
	return f, nil
}

func collect(ctx context.Context, conn *pgx.Conn, sql string, args []any, each func(pgx.Rows) error) error {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func readPublication(ctx context.Context, conn *pgx.Conn, name string) (*Publication, error) {
	p := &Publication{Tables: map[string]PublishedTable{}}
	err := conn.QueryRow(ctx, `select puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pg_has_role(pubowner, 'USAGE')
		from pg_publication where pubname = $1`, name).
		Scan(&p.AllTables, &p.Insert, &p.Update, &p.Delete, &p.Truncate, &p.Owned)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading publication %s: %w", name, err)
	}
	// pg_publication_tables expands FOR ALL TABLES and FOR TABLES IN SCHEMA too;
	// pg_publication_rel carries PG 15's per-table row filters and column lists.
	// Joined by oid: casting a name to regclass needs USAGE on its schema, which
	// the role may lack for sidecar.
	err = collect(ctx, conn, `
		select t.schemaname || '.' || t.tablename,
		       coalesce(r.prqual is not null, false),
		       coalesce(r.prattrs is not null, false)
		from pg_publication_tables t
		join pg_publication p on p.pubname = t.pubname
		join pg_namespace n on n.nspname = t.schemaname
		join pg_class c on c.relnamespace = n.oid and c.relname = t.tablename
		left join pg_publication_rel r on r.prpubid = p.oid and r.prrelid = c.oid
		where t.pubname = $1`, []any{name}, func(r pgx.Rows) error {
		var n string
		var pt PublishedTable
		if err := r.Scan(&n, &pt.RowFilter, &pt.ColumnList); err != nil {
			return err
		}
		p.Tables[n] = pt
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tables of publication %s: %w", name, err)
	}
	return p, nil
}

func readReplicaIdentity(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	out := map[string]string{}
	err := collect(ctx, conn, `
		select n.nspname || '.' || c.relname, c.relreplident::text
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname || '.' || c.relname = any($1) and c.relkind in ('r', 'p')`,
		[]any{change.Guarded()}, func(r pgx.Rows) error {
			var n, ident string
			if err := r.Scan(&n, &ident); err != nil {
				return err
			}
			out[n] = ident
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading replica identities: %w", err)
	}
	return out, nil
}

// readOwnership reads what creating or correcting a publication needs: CREATE on
// the database, and the privileges of each wanted table's owner.
func readOwnership(ctx context.Context, conn *pgx.Conn) (bool, map[string]bool, error) {
	var canCreate bool
	if err := conn.QueryRow(ctx, `select has_database_privilege(current_database(), 'CREATE')`).Scan(&canCreate); err != nil {
		return false, nil, fmt.Errorf("reading database privileges: %w", err)
	}
	var tables []string
	for _, w := range replication.Publications("") {
		tables = append(tables, w.Tables...)
	}
	owns := map[string]bool{}
	err := collect(ctx, conn, `
		select n.nspname || '.' || c.relname, pg_has_role(c.relowner, 'USAGE')
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname || '.' || c.relname = any($1) and c.relkind in ('r', 'p')`,
		[]any{tables}, func(r pgx.Rows) error {
			var n string
			var owned bool
			if err := r.Scan(&n, &owned); err != nil {
				return err
			}
			owns[n] = owned
			return nil
		})
	if err != nil {
		return false, nil, fmt.Errorf("reading table owners: %w", err)
	}
	return canCreate, owns, nil
}

// readRecordTriggers lists, for each recorded table of the catalogue that exists,
// its triggers named <table>_record_* (the change record migration's names) and
// the one the catalogue says records its updates.
func readRecordTriggers(ctx context.Context, conn *pgx.Conn) (map[string][]Trigger, error) {
	var tables, recorders []string
	for _, t := range change.Catalogue {
		if t.Recorded {
			tables = append(tables, t.QualifiedName())
			recorders = append(recorders, t.UpdateRecorder())
		}
	}
	out := map[string][]Trigger{}
	err := collect(ctx, conn, `
		select n.nspname || '.' || c.relname, t.tgname,
		       coalesce(t.tgenabled in ('O', 'A'), false),
		       coalesce(t.tgtype & 4 <> 0, false), coalesce(t.tgtype & 16 <> 0, false), coalesce(t.tgtype & 8 <> 0, false),
		       coalesce(t.tgtype & 16 <> 0 and (p.prosrc like '%sidecar.changes%' or p.prosrc like '%private.record\_%(%'), false)
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		left join (pg_trigger t join pg_proc p on p.oid = t.tgfoid)
		       on t.tgrelid = c.oid and not t.tgisinternal
		      and (t.tgname like replace(c.relname, '_', '\_') || '\_record\_%' or t.tgname = any($2))
		where n.nspname || '.' || c.relname = any($1) and c.relkind in ('r', 'p')
		order by 1, 2`,
		[]any{tables, recorders}, func(r pgx.Rows) error {
			var table string
			var name *string
			var tg Trigger
			if err := r.Scan(&table, &name, &tg.Enabled, &tg.Insert, &tg.Update, &tg.Delete, &tg.RecordsUpdates); err != nil {
				return err
			}
			if name == nil {
				out[table] = []Trigger{}
				return nil
			}
			tg.Name = *name
			out[table] = append(out[table], tg)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading the change record triggers: %w", err)
	}
	return out, nil
}

// readAccess reads what the role may do with table (nil when it does not exist).
// It goes by oid: naming a table in a schema the role may not use is an error.
func readAccess(ctx context.Context, conn *pgx.Conn, table change.Table, privileges []string) (*TableAccess, error) {
	a := &TableAccess{Privileges: map[string]bool{}}
	var oid uint32
	err := conn.QueryRow(ctx, `
		select c.oid, has_schema_privilege(n.oid, 'USAGE'),
		       c.relrowsecurity and not (r.rolsuper or r.rolbypassrls
		                                 or (pg_has_role(c.relowner, 'USAGE') and not c.relforcerowsecurity))
		from pg_class c join pg_namespace n on n.oid = c.relnamespace, pg_roles r
		where n.nspname = $1 and c.relname = $2 and r.rolname = current_user`,
		table.Schema, table.Name).Scan(&oid, &a.SchemaUsage, &a.RLSApplies)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", table.QualifiedName(), err)
	}
	for _, p := range privileges {
		var held bool
		if priv, column, ok := strings.Cut(strings.TrimSuffix(p, ")"), "("); ok {
			err = conn.QueryRow(ctx, `select has_column_privilege($1::oid, $2, $3)`, oid, column, priv).Scan(&held)
		} else {
			err = conn.QueryRow(ctx, `select has_table_privilege($1::oid, $2)`, oid, p).Scan(&held)
		}
		if err != nil {
			return nil, fmt.Errorf("reading privileges on %s: %w", table.QualifiedName(), err)
		}
		a.Privileges[p] = held
	}
	return a, nil
}

func readWebhooks(ctx context.Context, conn *pgx.Conn) ([]Webhook, error) {
	var out []Webhook
	err := collect(ctx, conn, `
		select n.nspname || '.' || c.relname, t.tgenabled in ('O', 'A'), t.tgtype & 4 <> 0,
		       pn.nspname || '.' || p.proname, t.tgargs
		from pg_trigger t
		join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
		join pg_proc p on p.oid = t.tgfoid join pg_namespace pn on pn.oid = p.pronamespace
		where t.tgname = $1 and not t.tgisinternal
		order by 1`, []any{WebhookTrigger}, func(r pgx.Rows) error {
		var w Webhook
		var args []byte
		if err := r.Scan(&w.Table, &w.Enabled, &w.Insert, &w.Function, &args); err != nil {
			return err
		}
		// Arguments are NUL-terminated; the first is the URL, the third the
		// Authorization header, which must not reach the report.
		if i := bytes.IndexByte(args, 0); i >= 0 {
			w.URL = string(args[:i])
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s triggers: %w", WebhookTrigger, err)
	}
	return out, nil
}

func readGuards(ctx context.Context, conn *pgx.Conn) ([]Guard, error) {
	var out []Guard
	// tgtype: 1 row, 2 before, 4 insert, 16 update.
	err := collect(ctx, conn, `
		select n.nspname || '.' || c.relname, t.tgname, pn.nspname || '.' || p.proname,
		       t.tgenabled in ('O', 'A'), t.tgtype & 3 = 3, t.tgtype & 4 <> 0, t.tgtype & 16 <> 0,
		       array(select a.attname::text from unnest(t.tgattr) k
		              join pg_attribute a on a.attrelid = t.tgrelid and a.attnum = k order by 1)
		from pg_trigger t
		join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
		join pg_proc p on p.oid = t.tgfoid join pg_namespace pn on pn.oid = p.pronamespace
		where not t.tgisinternal and pn.nspname = 'private' and p.proname like '%\_media\_guard'
		order by 1, 2`, nil, func(r pgx.Rows) error {
		var g Guard
		if err := r.Scan(&g.Table, &g.Name, &g.Function, &g.Enabled, &g.BeforeRow, &g.Insert, &g.Update, &g.Columns); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the media guard triggers: %w", err)
	}
	return out, nil
}

func readHistory(ctx context.Context, conn *pgx.Conn) (map[string]bool, bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `select to_regclass('supabase_migrations.schema_migrations') is not null`).Scan(&exists); err != nil {
		return nil, false, fmt.Errorf("looking for the migration history: %w", err)
	}
	if !exists {
		return nil, true, nil
	}
	out := map[string]bool{}
	err := collect(ctx, conn, `select version from supabase_migrations.schema_migrations`, nil, func(r pgx.Rows) error {
		var v string
		if err := r.Scan(&v); err != nil {
			return err
		}
		out[v] = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("reading supabase_migrations.schema_migrations: %w", err)
	}
	return out, false, nil
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (*Slot, error) {
	s := &Slot{}
	var plugin, database, walStatus *string
	err := conn.QueryRow(ctx, `select plugin, slot_type, database, active, wal_status
		from pg_replication_slots where slot_name = $1`, name).
		Scan(&plugin, &s.SlotType, &database, &s.Active, &walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading replication slot %s: %w", name, err)
	}
	s.Plugin, s.Database, s.WALStatus = deref(plugin), deref(database), deref(walStatus)
	var lag *string
	// numeric, not bigint: pg_wal_lsn_diff returns numeric.
	s.LagErr = conn.QueryRow(ctx, `select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text
		from pg_replication_slots where slot_name = $1`, name).Scan(&lag)
	if s.LagErr == nil {
		if lag == nil {
			s.LagErr = errors.New("the slot has no confirmed_flush_lsn")
		} else if s.LagBytes, s.LagErr = strconv.ParseInt(*lag, 10, 64); s.LagErr != nil {
			s.LagErr = fmt.Errorf("parsing slot lag %q: %w", *lag, s.LagErr)
		}
	}
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// identifySystem opens a logical replication connection, as the sidecar does, and
// runs IDENTIFY_SYSTEM. This is what fails behind a pooler, without REPLICATION,
// or when pg_hba.conf refuses replication connections.
func identifySystem(ctx context.Context, cfg *pgconn.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("opening a replication connection: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := pglogrepl.IdentifySystem(ctx, conn); err != nil {
		return fmt.Errorf("running IDENTIFY_SYSTEM: %w", err)
	}
	return nil
}
