package deploycheck

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/talent-onboarding/backend/sidecar/internal/sidecartest"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// series maps each sample name of a scrape to the label sets it was seen with.
type series map[string][]map[string]string

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	selector   = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	sidecarRef = regexp.MustCompile(`\bsidecar_[a-zA-Z0-9_]*\b`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// parseScrape reads the text exposition format, only as far as names and labels.
func parseScrape(text string) series {
	out := series{}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			labels[p[1]] = p[3]
		}
		out[m[1]] = append(out[m[1]], labels)
	}
	return out
}

// selectorProblems checks one rule expression against a scrape: every sidecar_*
// name is a sample the sidecar exports, every label matcher names a label those
// samples carry and (for = and =~) matches a value they have, and every by/without
// label is one of theirs. `up` is Prometheus's own and is not checked.
func selectorProblems(expr string, s series) []string {
	var problems []string
	labelsOf := map[string]bool{}
	for _, name := range sidecarRef.FindAllString(expr, -1) {
		if _, ok := s[name]; !ok {
			problems = append(problems, "metric "+name+" is not exported by the sidecar")
		}
		for _, l := range s[name] {
			for k := range l {
				labelsOf[k] = true
			}
		}
	}
	for _, sel := range selector.FindAllStringSubmatch(expr, -1) {
		name := sel[1]
		if name == "up" {
			continue
		}
		if !strings.HasPrefix(name, "sidecar_") {
			problems = append(problems, "selector "+sel[0]+": not a sidecar metric")
			continue
		}
		for _, m := range labelPair.FindAllStringSubmatch(sel[2], -1) {
			key, op, val := m[1], m[2], m[3]
			seen, matched := false, false
			for _, l := range s[name] {
				v, ok := l[key]
				seen = seen || ok
				switch op {
				case "=":
					matched = matched || (ok && v == val)
				case "=~":
					re, err := regexp.Compile("^(?:" + val + ")$")
					matched = matched || (ok && err == nil && re.MatchString(v))
				default:
					matched = true
				}
			}
			if !seen {
				problems = append(problems, "selector "+sel[0]+": "+name+" has no label "+key)
			} else if !matched {
				problems = append(problems, "selector "+sel[0]+": no "+name+" series has "+key+op+`"`+val+`"`)
			}
		}
	}
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, key := range strings.Split(g[1], ",") {
			if key = strings.TrimSpace(key); key != "" && !labelsOf[key] && key != "job" && key != "instance" {
				problems = append(problems, "grouping by "+key+": no metric of the expression has that label")
			}
		}
	}
	return problems
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is needed: apt-get install --no-install-recommends prometheus (make test installs it)")
	return p
}

// The scrape of a real sidecar passes `promtool check metrics`, and every
// selector of the alert rules names metrics and labels that scrape really has.
func TestMetricsLintAndAlertSelectors(t *testing.T) {
	tool := promtool(t)
	db := testdb.New(t)
	p := sidecartest.Start(t, sidecartest.Binary(t), sidecartest.Env(t, db.URL, nil))
	require.NoError(t, p.WaitState("streaming", 30*time.Second))

	// A delivery with a wrong secret: sidecar_webhook_responses_total{status="401"}
	// exists only once one was answered.
	req, err := http.NewRequest(http.MethodPost, "http://"+p.Addr+"/webhooks/supabase", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "not-the-secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, err = http.Get("http://" + p.Addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics")

	b, err := os.ReadFile(filepath.Join(testdb.Root(t), "deploy", "prometheus", "talent-sidecar.rules.yml"))
	require.NoError(t, err)
	var rf ruleFile
	require.NoError(t, yaml.Unmarshal(b, &rf))
	s := parseScrape(string(body))
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			require.Empty(t, selectorProblems(r.Expr, s), "%s: %s", r.Alert, r.Expr)
		}
	}
	require.GreaterOrEqual(t, n, 7, "the rules file lost its alerts")
}

// Neither check passes by accident: promtool's exit status reaches the test, and
// the selector check finds a misspelt metric, a label it lacks and a value it has
// never had.
func TestMetricsChecksAreNotVacuous(t *testing.T) {
	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader("# HELP sidecar_things Things.\n# TYPE sidecar_things counter\nsidecar_things 1\n")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), `"_total" suffix`)

	s := parseScrape(`# TYPE sidecar_email_sends_total counter
sidecar_email_sends_total{outcome="sent"} 3
sidecar_email_sends_total{outcome="failed"} 0
sidecar_dead_letters_total 0
`)
	require.Empty(t, selectorProblems(`sum by (outcome) (rate(sidecar_email_sends_total{outcome=~"sent|failed"}[5m])) and up{job="x"}`, s))
	got := selectorProblems(`sum by (route) (increase(sidecar_dead_letter_total[1h])) + sidecar_email_sends_total{outcome="lost"} + sidecar_email_sends_total{status="401"}`, s)
	sort.Strings(got)
	require.Equal(t, []string{
		"grouping by route: no metric of the expression has that label",
		"metric sidecar_dead_letter_total is not exported by the sidecar",
		`selector sidecar_email_sends_total{outcome="lost"}: no sidecar_email_sends_total series has outcome="lost"`,
		`selector sidecar_email_sends_total{status="401"}: sidecar_email_sends_total has no label status`,
	}, got)
}
