package mediaguard

import (
	"encoding/base64"
	"testing"
)

// FuzzCheck looks for panics and broken invariants of the rule. Run it with
//
//	go test ./sidecar/internal/mediaguard -run '^$' -fuzz FuzzCheck -fuzztime 60s
//
// (seeds: the corpus strings; new failures land in testdata/fuzz/FuzzCheck).
func FuzzCheck(f *testing.F) {
	for _, c := range loadCorpus(f) {
		if s, ok := c.Value.(string); ok {
			f.Add(s)
		}
	}
	f.Add("data:,AAAAAAAA")
	f.Add("%%%253A%3")
	g := New("")
	f.Fuzz(func(t *testing.T, s string) {
		if isSuspect(s) != suspect.MatchString(s) {
			t.Fatalf("isSuspect(%q) = %v disagrees with its regexp", s, isSuspect(s))
		}
		fd, ok := inspectString(s)
		if !ok && fd.Kind == "" {
			t.Fatalf("refused %q without a kind", s)
		}
		if !ok && len(s) < minSuspect {
			t.Fatalf("refused %q, shorter than any refusable value", s)
		}
		// Nesting in JSON or an array never changes the verdict.
		nested := g.Check("onboarding_progress", "form_data", map[string]any{"steps": []any{map[string]any{"x": s}}})
		if (len(nested) == 0) != ok {
			t.Fatalf("%q: verdict %v alone but %d violations nested", s, ok, len(nested))
		}
		if len(nested) > 0 && nested[0].Path != `form_data.steps[0].x` {
			t.Fatalf("%q: path %q", s, nested[0].Path)
		}
		// Surrounding prose never hides a refusal.
		if _, wrapped := inspectString("I said " + s + " today"); !ok && wrapped {
			t.Fatalf("%q refused alone but accepted inside prose", s)
		}
		// Any content as a base64 data: URI is refused, in any case.
		if len(s) > 0 {
			if _, ok := inspectString("DATA:image/png;base64," + base64.StdEncoding.EncodeToString([]byte(s))); ok {
				t.Fatalf("data: URI of %q accepted", s)
			}
		}
		if len(pctDecode(s)) > len(s) {
			t.Fatalf("percent-decoding grew %q", s)
		}
		// A media URL column accepts nothing that is not under the Storage base.
		if _, ok := inspectURL(s, "headshots", g.base, g.paths["headshots"]); ok && s != "" &&
			(len(s) < len(g.base) || s[:len(g.base)] != g.base) {
			t.Fatalf("headshot URL %q accepted outside %s", s, g.base)
		}
	})
}
