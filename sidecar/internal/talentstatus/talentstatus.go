// Package talentstatus is the Go side's one copy of the talent status state
// machine. The database enforces it (the talent_profiles trigger, whose table is
// private.talent_transition_actor, migration 20261202400000); the sidecar reads it here to
// know what each committed transition means: who made it, what the audit log calls
// it and which email it sends the talent. A test compares the table with the
// database's function.
package talentstatus

// Actors of a transition, as private.talent_transition_actor names them.
const (
	Talent = "talent" // the profile's owner
	Admin  = "admin"  // any admin
)

// Transition is one allowed status change.
type Transition struct {
	From, To string
	Actor    string // Talent or Admin
	Action   string // the admin_actions action ("" for a talent's own transition)
	Email    string // the email template sent to the talent ("" for none)
}

// Transitions are every allowed status change.
var Transitions = []Transition{
	{From: "draft", To: "submitted", Actor: Talent, Email: "welcome"},
	{From: "submitted", To: "approved", Actor: Admin, Action: "approve", Email: "approval"},
	{From: "submitted", To: "rejected", Actor: Admin, Action: "reject", Email: "rejection"},
	{From: "approved", To: "active", Actor: Admin, Action: "activate", Email: "activation"},
	{From: "active", To: "inactive", Actor: Admin, Action: "deactivate", Email: "deactivation"},
	{From: "inactive", To: "active", Actor: Admin, Action: "activate", Email: "activation"},
	{From: "rejected", To: "draft", Actor: Admin, Action: "reopen"},
}

// Lookup returns the transition from one status to another; ok is false when the
// state machine has no such transition (or the status did not change).
func Lookup(from, to string) (t Transition, ok bool) {
	for _, t := range Transitions {
		if t.From == from && t.To == to {
			return t, true
		}
	}
	return Transition{}, false
}
