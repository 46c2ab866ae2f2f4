package email

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

const adminID = "00000000-0000-4000-8000-00000000ad01"

func makeAdmin(t *testing.T, f *fixture) {
	_, err := f.pool.Exec(context.Background(), `insert into auth.users (id, email) values ($1, 'boss@example.com')`, adminID)
	require.NoError(t, err)
	_, err = f.pool.Exec(context.Background(), `insert into admin_users (id) values ($1)`, adminID)
	require.NoError(t, err)
}

// editTemplate changes a template as the admin through the PostgREST-shaped role and
// returns the change event the pipeline would build.
func editTemplate(t *testing.T, f *fixture, name, col, value string) *change.Event {
	t.Helper()
	ctx := context.Background()
	old := rowJSON(t, f.pool, `select to_jsonb(t) from email_templates t where name = $1`, name)
	err := testdb.AsRole(ctx, f.pool, "authenticated", adminID, "boss@example.com", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update email_templates set `+col+` = $2 where name = $1`, name, value)
		if err == nil && tag.RowsAffected() != 1 {
			t.Fatalf("admin update touched %d rows", tag.RowsAffected())
		}
		return err
	})
	require.NoError(t, err)
	return &change.Event{Source: change.SourceReplication, Schema: "public", Table: "email_templates", Op: change.Update,
		Old: old, New: rowJSON(t, f.pool, `select to_jsonb(t) from email_templates t where name = $1`, name)}
}

func templateStatus(t *testing.T, f *fixture, name string) (applied bool, applyErr string) {
	require.NoError(t, f.pool.QueryRow(context.Background(),
		`select applied_at is not null, coalesce(apply_error, '') from email_templates where name = $1`, name).Scan(&applied, &applyErr))
	return
}

func TestLiveConfigAppliesGoodAndRefusesBrokenTemplate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	makeAdmin(t, f)
	applied, _ := templateStatus(t, f, "approval")
	require.True(t, applied, "Load stamps applied_at on the defaults")

	// A good change: validated, stamped, used by the next email.
	ev := editTemplate(t, f, "approval", "subject", "Welcome to the roster, {{.TalentName}}")
	applied, _ = templateStatus(t, f, "approval")
	require.False(t, applied, "an admin edit clears applied_at until the sidecar judges it")
	handle(t, f.pool, ev, f.live, f.queue)
	applied, applyErr := templateStatus(t, f, "approval")
	require.True(t, applied)
	require.Empty(t, applyErr)

	id := f.newTalent(t, "Eve", "eve@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")

	// A broken change: apply_error names the template, part, line and variable; the
	// good version keeps being used.
	ev = editTemplate(t, f, "activation", "html_body", "<p>Hello</p>\n<p>{{.FavouriteColour}}</p>")
	handle(t, f.pool, ev, f.live, f.queue)
	applied, applyErr = templateStatus(t, f, "activation")
	require.False(t, applied)
	require.Contains(t, applyErr, "template activation: html_body: activation html_body:2:5: unknown variable .FavouriteColour")
	f.move(t, id, "active", "")

	ev = editTemplate(t, f, "deactivation", "text_body", "{{.TalentName")
	handle(t, f.pool, ev, f.live, f.queue)
	_, applyErr = templateStatus(t, f, "deactivation")
	require.Contains(t, applyErr, "template deactivation: parsing text_body")

	for _, n := range f.notifications(t) {
		switch n.Type {
		case "approval":
			require.Equal(t, "Welcome to the roster, Eve", n.Subject)
		case "activation":
			require.Contains(t, n.HTML, "You're live, Eve!")
			require.NotContains(t, n.HTML, "FavouriteColour")
		}
	}

	// Our own applied_at/apply_error write records no change to act on (no loop):
	// the verdict of an admin's edit leaves sidecar.changes as it was.
	countRecords := func() int {
		var n int
		require.NoError(t, f.pool.QueryRow(context.Background(), `select count(*) from sidecar.changes`).Scan(&n))
		return n
	}
	ev = editTemplate(t, f, "deactivation", "subject", "Paused for now")
	before := countRecords()
	handle(t, f.pool, ev, f.live)
	require.Equal(t, before, countRecords(), "the verdict is not a change")

	// Fixing the template applies it.
	ev = editTemplate(t, f, "deactivation", "text_body", "Paused, {{.TalentName}}.")
	handle(t, f.pool, ev, f.live)
	applied, applyErr = templateStatus(t, f, "deactivation")
	require.True(t, applied)
	require.Empty(t, applyErr)
	f.move(t, id, "inactive", "")
	for _, n := range f.notifications(t) {
		if n.Type == "deactivation" {
			require.Equal(t, "Paused, Eve.", n.Text)
		}
	}
}

func TestLiveConfigSettingsChangeAndRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	makeAdmin(t, f)
	ctx := context.Background()
	edit := func(set string) *change.Event {
		old := rowJSON(t, f.pool, `select to_jsonb(s) from email_settings s`)
		require.NoError(t, testdb.AsRole(ctx, f.pool, "authenticated", adminID, "boss@example.com", func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `update email_settings set `+set)
			return err
		}))
		return &change.Event{Source: change.SourceWebhook, Schema: "public", Table: "email_settings", Op: change.Update,
			Old: old, New: rowJSON(t, f.pool, `select to_jsonb(s) from email_settings s`)}
	}
	handle(t, f.pool, edit(`from_name = 'Acme Voices', admin_recipients = '{ops@example.com}'`), f.live)
	require.Equal(t, "Acme Voices", f.live.Current().Settings.FromName)
	require.Equal(t, []string{"ops@example.com"}, f.live.Current().Settings.AdminRecipients)

	// The database accepts this, the sidecar does not: refused, last good kept.
	handle(t, f.pool, edit(`admin_recipients = '{"not an address"}'`), f.live)
	var applyErr string
	require.NoError(t, f.pool.QueryRow(ctx, `select coalesce(apply_error,'') from email_settings`).Scan(&applyErr))
	require.Contains(t, applyErr, `admin_recipients[1] "not an address" is not a plain email address`)
	require.Equal(t, []string{"ops@example.com"}, f.live.Current().Settings.AdminRecipients)

	// A handler whose transaction rolls back publishes nothing.
	ev := edit(`from_name = 'Never Committed'`)
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		require.NoError(t, f.live.Handle(ctx, tx, ev))
		return context.Canceled
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "Acme Voices", f.live.Current().Settings.FromName)
}
