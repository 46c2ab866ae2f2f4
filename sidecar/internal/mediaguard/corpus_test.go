package mediaguard

import (
	"encoding/json"
	"os"
	"testing"
)

// corpusCase is one entry of testdata/corpus.json, the cases the Go rule and the
// pgTAP test (supabase/tests/database/media_guard.test.sql) both read.
type corpusCase struct {
	Name   string `json:"name"`
	Table  string `json:"table"`
	Column string `json:"column"`
	Value  any    `json:"value"`
	Want   string `json:"want"` // "refuse" or "accept"
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatalf("reading corpus: %v", err)
	}
	var cs []corpusCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatalf("decoding corpus: %v", err)
	}
	if len(cs) < 60 {
		t.Fatalf("corpus has %d cases, want at least 60", len(cs))
	}
	return cs
}

func TestCorpus(t *testing.T) {
	g := New("")
	for _, c := range loadCorpus(t) {
		t.Run(c.Name, func(t *testing.T) {
			if c.Want != "refuse" && c.Want != "accept" {
				t.Fatalf("want must be refuse or accept, got %q", c.Want)
			}
			if !Covered(c.Table) {
				t.Fatalf("table %s is not guarded", c.Table)
			}
			vs := g.Check(c.Table, c.Column, c.Value)
			switch {
			case c.Want == "accept" && len(vs) > 0:
				t.Errorf("refused a good value: %v", vs)
			case c.Want == "refuse" && len(vs) == 0:
				t.Errorf("accepted a bad value")
			}
			for _, v := range vs {
				if v.Table != c.Table || v.Column != c.Column {
					t.Errorf("violation names %s.%s, want %s.%s", v.Table, v.Column, c.Table, c.Column)
				}
				if v.Reason == "" || v.Kind == "" || v.Size <= 0 || v.Path == "" {
					t.Errorf("incomplete violation %+v", v)
				}
			}
		})
	}
}
