package email

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueueStateMachineEmails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set admin_recipients = '{a1@example.com,a2@example.com}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))

	id := f.newTalent(t, "Ana <b>Lima</b>", "ana@example.com")
	ev := f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")
	f.move(t, id, "active", "")
	f.move(t, id, "inactive", "")
	f.move(t, id, "active", "")

	got := f.notifications(t)
	var kinds []string
	for _, n := range got {
		kinds = append(kinds, n.Type+"→"+n.To)
		require.Equal(t, "queued", n.Status)
	}
	require.ElementsMatch(t, []string{
		"welcome→ana@example.com", "admin_new_submission→a1@example.com", "admin_new_submission→a2@example.com",
		"approval→ana@example.com", "activation→ana@example.com", "deactivation→ana@example.com", "activation→ana@example.com",
	}, kinds)
	for _, n := range got {
		if n.Type == "welcome" {
			require.Equal(t, ev.Key+":welcome:ana@example.com", n.Key)
			require.Contains(t, n.HTML, "Ana &lt;b&gt;Lima&lt;/b&gt;")
			require.Contains(t, n.Text, "Ana <b>Lima</b>")
			require.Contains(t, n.Subject, "Northlight Talent")
		}
	}

	// The same event again (redelivery, or the other input) queues nothing more.
	handle(t, f.pool, ev, f.live, f.queue)
	require.Len(t, f.notifications(t), len(got))
}

func TestQueueRejectionCarriesReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.newTalent(t, "Bo", "bo@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "rejected", "Samples were too quiet & short")
	var rej *notification
	for _, n := range f.notifications(t) {
		if n.Type == "rejection" {
			rej = &n
		}
	}
	require.NotNil(t, rej)
	require.Contains(t, rej.HTML, "Samples were too quiet &amp; short")
	require.Contains(t, rej.Text, "Samples were too quiet & short")
	// rejected -> draft sends nothing.
	before := len(f.notifications(t))
	f.move(t, id, "draft", "")
	require.Len(t, f.notifications(t), before)
}

func TestQueueFloodControlRecordsHeldBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_settings set per_recipient_limit = 2, admin_recipients = '{}'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	id := f.newTalent(t, "Cy", "cy@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")
	f.move(t, id, "active", "")
	f.move(t, id, "inactive", "")
	got := f.notifications(t)
	require.Len(t, got, 4, "held-back emails are recorded, not lost")
	statuses := map[string]int{}
	for _, n := range got {
		statuses[n.Status]++
		if n.Status == "failed" {
			require.Contains(t, n.LastError, "held back: cy@example.com already received 2 emails")
		}
	}
	require.Equal(t, map[string]int{"queued": 2, "failed": 2}, statuses)
}

func TestQueueSwitchedOffIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `update email_templates set enabled = false where name = 'approval'`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	id := f.newTalent(t, "Di", "di@example.com")
	f.move(t, id, "submitted", "")
	f.move(t, id, "approved", "")
	_, err = f.pool.Exec(ctx, `update email_settings set enabled = false`)
	require.NoError(t, err)
	require.NoError(t, f.live.Load(ctx))
	f.move(t, id, "active", "")
	for _, n := range f.notifications(t) {
		switch n.Type {
		case "approval":
			require.Equal(t, "failed", n.Status)
			require.Equal(t, "suppressed: template approval is disabled", n.LastError)
		case "activation":
			require.Equal(t, "failed", n.Status)
			require.Equal(t, "suppressed: email is switched off in email_settings", n.LastError)
		default:
			require.Equal(t, "queued", n.Status, n.Type)
		}
	}
}
