// Package email is the part of the status-change emails that runs inside the
// pipeline's transaction: it applies the admin email configuration live (Live),
// decides and queues one email_notifications row per email (Queuer), and renders the
// admin-edited templates (also for the sender, and for `sidecar email preview`).
// What happens after the commit — the outbox sender, its providers and SendGrid's
// delivery events — is package emailsend.
package email

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
)

// Template names (contract: DESIGN.md state machine; which status change sends
// which is talentstatus.Transitions).
const (
	welcome            = "welcome"
	adminNewSubmission = "admin_new_submission"
	approval           = "approval"
	rejection          = "rejection"
	activation         = "activation"
	deactivation       = "deactivation"
)

// TemplateNames lists every template the sidecar sends.
var TemplateNames = []string{welcome, adminNewSubmission, approval, rejection, activation, deactivation}

// templateVars is the fixed set of variables a template may use, as {{.Name}}. Nothing else
// is available: a template naming another field, or a function that does not exist,
// is refused when an admin saves it. All values are plain strings so templates stay
// simple; html/template escapes them in HTML bodies.
//
// A queued email stores the variables that come from the change (the talent at
// that moment) as template_vars, without empty ones; the portal links and the
// company name come from the settings in force when it is sent (withSettings), as
// the templates do. A stored value (a row queued before this was so) is kept.
type templateVars struct {
	TalentName      string `json:",omitempty"` // the talent's name
	TalentEmail     string `json:",omitempty"` // the talent's email address
	TalentID        string `json:",omitempty"` // the profile's id (uuid)
	Status          string `json:",omitempty"` // the new status, e.g. "approved"
	PreviousStatus  string `json:",omitempty"` // the status before the change, e.g. "submitted"
	RejectionReason string `json:",omitempty"` // the admin's reason (rejection emails; empty otherwise)
	SubmittedAt     string `json:",omitempty"` // when the profile was submitted, e.g. "21 Nov 2026 10:04 UTC"
	PortalURL       string `json:",omitempty"` // email_settings.portal_url
	ProfileURL      string `json:",omitempty"` // the talent's own profile page in the portal
	AdminURL        string `json:",omitempty"` // the admin review page of this profile
	CompanyName     string `json:",omitempty"` // email_settings.from_name
}

// withSettings fills the variables that come from the email settings (portal URL
// and company name) where they are empty.
func (v *templateVars) withSettings(portalURL, company string) {
	portal := strings.TrimRight(portalURL, "/")
	if v.PortalURL == "" {
		v.PortalURL = portal
	}
	if v.ProfileURL == "" {
		v.ProfileURL = portal + "/profile"
	}
	if v.AdminURL == "" {
		v.AdminURL = portal + "/admin/talent/" + v.TalentID
	}
	if v.CompanyName == "" {
		v.CompanyName = company
	}
	if v.CompanyName == "" {
		v.CompanyName = "the talent team"
	}
}

// varNames is the set of allowed field names, read from templateVars.
var varNames = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(templateVars{})
	for i := 0; i < t.NumField(); i++ {
		m[t.Field(i).Name] = true
	}
	return m
}()

// VarNames returns the allowed variable names (for documentation and error messages).
func VarNames() []string {
	t := reflect.TypeOf(templateVars{})
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Name
	}
	return out
}

// sampleVars fills every variable, so validation executes every {{if}} branch that
// tests a variable and previews look like a real email.
func sampleVars(portalURL, company string) templateVars {
	v := templateVars{
		TalentName:      "Jordan Avery",
		TalentEmail:     "jordan.avery@example.com",
		TalentID:        "8c1f4d2e-5b7a-4c3e-9f10-2a6b8d4e1c77",
		Status:          "approved",
		PreviousStatus:  "submitted",
		RejectionReason: "We are not adding new voice talent in your region this quarter.",
		SubmittedAt:     "21 Nov 2026 10:04 UTC",
	}
	v.withSettings(portalURL, company)
	return v
}

// maxRendered bounds one rendered part, so a template such as {{range 1000000000}}
// cannot exhaust memory.
const maxRendered = 1 << 20

// tmpl is one compiled, validated email template.
type tmpl struct {
	Name    string
	Enabled bool
	subject *template.Template
	html    *htmltemplate.Template
	text    *template.Template
}

// Rendered is a template executed over templateVars.
type Rendered struct {
	Subject, HTML, Text string
}

// compile parses a template's three parts and validates them: every variable must be
// one of templateVars, every function must exist, and the template must render against the
// sample variables. The error names the template, the part and the line.
func compile(name string, enabled bool, subject, htmlBody, textBody string) (*tmpl, error) {
	t := &tmpl{Name: name, Enabled: enabled}
	var err error
	if t.subject, err = template.New(name + " subject").Option("missingkey=error").Parse(subject); err != nil {
		return nil, fmt.Errorf("template %s: parsing subject: %w", name, err)
	}
	if err := checkFields(t.subject.Tree, "subject"); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	if t.html, err = htmltemplate.New(name + " html_body").Option("missingkey=error").Parse(htmlBody); err != nil {
		return nil, fmt.Errorf("template %s: parsing html_body: %w", name, err)
	}
	if err := checkFields(t.html.Tree, "html_body"); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	if t.text, err = template.New(name + " text_body").Option("missingkey=error").Parse(textBody); err != nil {
		return nil, fmt.Errorf("template %s: parsing text_body: %w", name, err)
	}
	if err := checkFields(t.text.Tree, "text_body"); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	if _, err := t.Render(sampleVars("https://portal.example.com", "Example Co")); err != nil {
		return nil, err
	}
	return t, nil
}

// Render executes the template. The subject is one line: line breaks a variable may
// carry (a name with a newline) never reach a mail header.
func (t *tmpl) Render(v templateVars) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = execute(t.subject, v); err != nil {
		return r, fmt.Errorf("template %s: rendering subject: %w", t.Name, err)
	}
	r.Subject = strings.Join(strings.Fields(r.Subject), " ")
	if r.Subject == "" {
		return r, fmt.Errorf("template %s: subject renders empty", t.Name)
	}
	if r.HTML, err = execute(t.html, v); err != nil {
		return r, fmt.Errorf("template %s: rendering html_body: %w", t.Name, err)
	}
	if r.Text, err = execute(t.text, v); err != nil {
		return r, fmt.Errorf("template %s: rendering text_body: %w", t.Name, err)
	}
	return r, nil
}

func execute(t any, v templateVars) (string, error) {
	w := &limitWriter{max: maxRendered}
	var err error
	switch t := t.(type) {
	case *template.Template:
		err = t.Execute(w, v)
	case *htmltemplate.Template:
		err = t.Execute(w, v)
	}
	if err != nil {
		return "", err
	}
	return w.buf.String(), nil
}

var errTooLarge = errors.New("output exceeds 1 MiB")

type limitWriter struct {
	buf bytes.Buffer
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, errTooLarge
	}
	return w.buf.Write(p)
}

// checkFields walks the parse tree and refuses any {{.Field}} that is not one of templateVars,
// including those in branches the sample would not execute.
func checkFields(tree *parse.Tree, part string) error {
	var walk func(n parse.Node) error
	bad := func(n parse.Node, field string) error {
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("%s: %s: unknown variable .%s (allowed: .%s)", part, loc, field, strings.Join(VarNames(), ", ."))
	}
	walk = func(n parse.Node) error {
		if n == nil || reflect.ValueOf(n).IsNil() {
			return nil
		}
		switch n := n.(type) {
		case *parse.ListNode:
			for _, c := range n.Nodes {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.ActionNode:
			return walk(n.Pipe)
		case *parse.PipeNode:
			for _, c := range n.Cmds {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				if err := walk(a); err != nil {
					return err
				}
			}
		case *parse.FieldNode:
			if !varNames[n.Ident[0]] || len(n.Ident) > 1 {
				return bad(n, strings.Join(n.Ident, "."))
			}
		case *parse.ChainNode:
			return bad(n, strings.Join(n.Field, "."))
		case *parse.VariableNode:
			if len(n.Ident) > 1 {
				return bad(n, strings.Join(n.Ident[1:], "."))
			}
		case *parse.IfNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.RangeNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.WithNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.TemplateNode:
			return fmt.Errorf("%s: {{template}} is not supported", part)
		}
		return nil
	}
	return walk(tree.Root)
}

func walkBranch(walk func(parse.Node) error, b *parse.BranchNode) error {
	if err := walk(b.Pipe); err != nil {
		return err
	}
	if err := walk(b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return walk(b.ElseList)
	}
	return nil
}
