package doctor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Facts is everything the checks look at, read from the target database in one
// pass. Checks are pure functions of Facts, so a setting that cannot be changed on a
// shared server (wal_level, max_slot_wal_keep_size) is tested by injecting values.
// A field whose read failed carries the error instead, and its check fails with it.
type Facts struct {
	Database string // current_database()

	// Settings holds pg_settings.setting by name (raw units, -1 for unlimited).
	Settings    map[string]string
	SettingsErr error

	SlotsUsed, SendersUsed int
	UsageErr               error

	Role                       string
	RoleSuper, RoleReplication bool
	RoleErr                    error

	// ReplicationErr is the result of opening a replication connection and
	// running IDENTIFY_SYSTEM, which is what the sidecar does first.
	ReplicationErr error

	Publication    *PublicationFacts // nil when the publication does not exist
	PublicationErr error

	// ReplicaIdentity maps each required table that exists to pg_class.relreplident
	// ('d' default, 'n' nothing, 'f' full, 'i' index).
	ReplicaIdentity    map[string]string
	ReplicaIdentityErr error

	// Applied holds the versions in supabase_migrations.schema_migrations;
	// HistoryMissing is set when that table does not exist.
	Applied        map[string]bool
	HistoryMissing bool
	HistoryErr     error

	Slot    *SlotFacts // nil when the slot does not exist
	SlotErr error
}

// PublicationFacts describes the sidecar's publication.
type PublicationFacts struct {
	AllTables              bool
	Insert, Update, Delete bool
	Tables                 map[string]PublishedTable // "schema.table" -> details
}

// PublishedTable is one table of the publication.
type PublishedTable struct {
	RowFilter, ColumnList bool
}

// SlotFacts describes the sidecar's replication slot.
type SlotFacts struct {
	Plugin, SlotType, Database string
	Active                     bool
	WALStatus                  string // reserved | extended | unreserved | lost ("" before PG 13)
	LagBytes                   int64  // pg_current_wal_lsn() - confirmed_flush_lsn
	LagErr                     error
}

// settingNames are read from pg_settings (readable by any role).
var settingNames = []string{"wal_level", "max_replication_slots", "max_wal_senders", "max_slot_wal_keep_size"}

// Gather reads the facts with conn (an ordinary connection) and tries a replication
// connection with replCfg. It returns an error only when conn itself fails; every
// other failure is recorded in Facts.
func Gather(ctx context.Context, conn *pgx.Conn, replCfg *pgconn.Config, opt Options) (*Facts, error) {
	f := &Facts{Settings: map[string]string{}}
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

	f.RoleErr = conn.QueryRow(ctx, `select rolsuper, rolreplication from pg_roles where rolname = current_user`).
		Scan(&f.RoleSuper, &f.RoleReplication)

	f.Publication, f.PublicationErr = readPublication(ctx, conn, opt.Publication)
	f.ReplicaIdentity, f.ReplicaIdentityErr = readReplicaIdentity(ctx, conn)
	f.Applied, f.HistoryMissing, f.HistoryErr = readHistory(ctx, conn)
	f.Slot, f.SlotErr = readSlot(ctx, conn, opt.Slot)

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

func readPublication(ctx context.Context, conn *pgx.Conn, name string) (*PublicationFacts, error) {
	p := &PublicationFacts{Tables: map[string]PublishedTable{}}
	err := conn.QueryRow(ctx, `select puballtables, pubinsert, pubupdate, pubdelete from pg_publication where pubname = $1`, name).
		Scan(&p.AllTables, &p.Insert, &p.Update, &p.Delete)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading publication %s: %w", name, err)
	}
	// pg_publication_tables expands FOR ALL TABLES and FOR TABLES IN SCHEMA too;
	// pg_publication_rel carries PG 15's per-table row filters and column lists.
	err = collect(ctx, conn, `
		select t.schemaname || '.' || t.tablename,
		       coalesce(r.prqual is not null, false),
		       coalesce(r.prattrs is not null, false)
		from pg_publication_tables t
		join pg_publication p on p.pubname = t.pubname
		left join pg_publication_rel r
		  on r.prpubid = p.oid and r.prrelid = format('%I.%I', t.schemaname, t.tablename)::regclass
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
		[]any{RequiredTables}, func(r pgx.Rows) error {
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

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (*SlotFacts, error) {
	s := &SlotFacts{}
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
