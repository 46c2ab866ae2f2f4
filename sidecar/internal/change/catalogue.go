package change

// Table is one table the sidecar watches, and how.
type Table struct {
	Schema, Name string
	// Recorded: triggers write its changes into sidecar.changes; the sidecar acts on
	// those records.
	Recorded bool
	// UpdatesRecordedBy names the trigger that records its updates when that is not
	// <Name>_record_change (see UpdateRecorder).
	UpdatesRecordedBy string
	// Guarded: its rows stream to the media guard (replication only).
	Guarded bool
}

// QualifiedName is schema.name.
func (t Table) QualifiedName() string { return t.Schema + "." + t.Name }

// UpdateRecorder is the trigger that records a recorded table's updates.
func (t Table) UpdateRecorder() string {
	if t.UpdatesRecordedBy != "" {
		return t.UpdatesRecordedBy
	}
	return t.Name + "_record_change"
}

// Records is the change record table: its inserts are the notices both inputs
// carry (the replication publication and the registered webhook).
var Records = Table{Schema: "sidecar", Name: "changes"}

// Catalogue is every table the sidecar watches. The replication publications, the
// webhook registration (deploy/supabase/register-webhooks.sql), the tables a webhook
// delivery may name, the doctor's checks and the handlers' interests derive from it.
var Catalogue = []Table{
	// A talent's update is recorded by the state machine itself (migration
	// 20261203200000); its delete by talent_profiles_record_delete.
	{Schema: "public", Name: "talent_profiles", Recorded: true, Guarded: true, UpdatesRecordedBy: "talent_profiles_before_write"},
	{Schema: "public", Name: "onboarding_progress", Guarded: true},
	{Schema: "public", Name: "email_settings", Recorded: true},
	{Schema: "public", Name: "email_templates", Recorded: true},
}

// EmailConfigKey is the row_key the database gives every change record of the
// email configuration, email_settings and email_templates alike (migration
// 20261202000100): the pipeline routes them as one barrier.
const EmailConfigKey = "email_config"

// Guarded lists the qualified names of the guarded tables.
func Guarded() []string {
	var out []string
	for _, t := range Catalogue {
		if t.Guarded {
			out = append(out, t.QualifiedName())
		}
	}
	return out
}

// Lookup finds a table of the catalogue, or the record table, by schema and name.
func Lookup(schema, name string) (Table, bool) {
	if schema == Records.Schema && name == Records.Name {
		return Records, true
	}
	for _, t := range Catalogue {
		if t.Schema == schema && t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Watch is what a pipeline handler acts on: the change records of some tables,
// and the streamed rows of some guarded tables.
type Watch struct {
	Records []string // table names (public schema) whose change records it handles
	Rows    []string // table names whose streamed rows it checks
}

// Matches reports whether ev is one the watch names.
func (w Watch) Matches(ev *Event) bool {
	names := w.Rows
	if ev.Recorded() {
		names = w.Records
	} else if ev.Notice || ev.Source != SourceReplication {
		return false
	}
	for _, n := range names {
		if n == ev.Table {
			return true
		}
	}
	return false
}
