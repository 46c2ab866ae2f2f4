package email

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/talentstatus"
)

func TestCompile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, subject, html, text string
		wantErr                   string
	}{
		{name: "ok", subject: "Hi {{.TalentName}}", html: "<p>{{.TalentName}}</p>", text: "{{.TalentName}}"},
		{name: "unknown variable", subject: "Hi", html: "<p>\n{{.Nickname}}</p>", text: "x", wantErr: "html_body: t html_body:2:2: unknown variable .Nickname"},
		{name: "unknown variable in untaken branch", subject: "Hi", html: "x", text: "{{if not .TalentName}}{{.Secret}}{{end}}", wantErr: "unknown variable .Secret"},
		{name: "nested field", subject: "{{.TalentName.Len}}", html: "x", text: "x", wantErr: "unknown variable .TalentName.Len"},
		{name: "unknown function", subject: "Hi", html: "{{exec .TalentName}}", text: "x", wantErr: `parsing html_body: template: t html_body:1: function "exec" not defined`},
		{name: "syntax error", subject: "Hi {{.TalentName", html: "x", text: "x", wantErr: "parsing subject"},
		{name: "template call refused", subject: "Hi", html: "x", text: `{{define "a"}}x{{end}}{{template "a"}}`, wantErr: "{{template}} is not supported"},
		{name: "runaway output", subject: "Hi", html: "x", text: "{{range 100000000}}xxxxxxxxxx{{end}}", wantErr: "output exceeds 1 MiB"},
		{name: "empty subject", subject: "{{if false}}x{{end}}", html: "x", text: "x", wantErr: "subject renders empty"},
		{name: "variable on range var", subject: "Hi", html: "x", text: "{{range $i, $v := 3}}{{$v.Foo}}{{end}}", wantErr: "unknown variable .Foo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile("t", true, tc.subject, tc.html, tc.text)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.True(t, strings.HasPrefix(err.Error(), "template t: "), err.Error())
		})
	}
}

func TestRenderEscapesHTMLAndFoldsSubject(t *testing.T) {
	t.Parallel()
	tpl, err := compile("welcome", true, "Hi {{.TalentName}}", `<p>{{.TalentName}}</p><a href="{{.ProfileURL}}">x</a>`, "{{.TalentName}}")
	require.NoError(t, err)
	v := sampleVars("https://p.example.com", "Co")
	v.TalentName = "<script>alert(1)</script>\r\nBcc: evil@example.com"
	v.ProfileURL = "javascript:alert(1)"
	r, err := tpl.Render(v)
	require.NoError(t, err)
	require.NotContains(t, r.HTML, "<script>")
	require.Contains(t, r.HTML, "&lt;script&gt;")
	require.Contains(t, r.HTML, `href="#ZgotmplZ"`)
	require.NotContains(t, r.Subject, "\n")
	require.NotContains(t, r.Subject, "\r")
	require.Contains(t, r.Text, "<script>", "text bodies are not HTML-escaped")
}

// Every email the state machine names is a template the sidecar has.
func TestTransitionEmailsAreTemplates(t *testing.T) {
	for _, tr := range talentstatus.Transitions {
		if tr.Email != "" {
			require.Contains(t, TemplateNames, tr.Email, "%s -> %s", tr.From, tr.To)
		}
	}
}
