package mediaguard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// gen makes inputs that sit near the rule's edges: prose, URLs, hashes, base64 runs
// of every length with and without magic numbers, wrapped or not, data: URIs in
// random dressings, percent-encoding, and stray punctuation.
type gen struct{ r *rand.Rand }

var (
	words  = []string{"the", "voice", "data:", "Data", "base64", "image/png", "audio", "is", "my", "responsibilities", "internationalization", "ta:", "a:", ":", ";", ",", "=", "%", "%3A", "%2C", "\"", "—", "Zoë", "李小龍", "https://example.com/a/b?x=1", "iVBORw0KGgo", "/9j/", "SUQz", "UklGR", "AAAAIGZ0eXA", "http://127.0.0.1:54321/storage/v1/object/headshots/"}
	b64std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	magics = []string{"/9j/4AAQ", "iVBORw0KGgoAAAANSUhEUg", "R0lGODlh", "UklGRiQAAABXQVZF", "AAAAIGZ0eXBpc29t", "AAAAGGZ0eXBtcDQy", "SUQzAwAAAAAA", "T2dnUwACAAAA", "GkXfo59ChoEB", "_9j_4AAQ", ""}
	blanks = []string{" ", "\n", "\r\n", "\t", "  ", "\n ", ""}
)

func (g gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) run(n int, alpha string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(alpha[g.r.IntN(len(alpha))])
	}
	return b.String()
}

func (g gen) wrap(s string) string {
	if g.r.IntN(3) != 0 || len(s) < 20 {
		return s
	}
	w := 8 + g.r.IntN(80)
	sep := g.pick([]string{"\n", "\r\n", " \n", "\n\t"})
	var parts []string
	for len(s) > w {
		parts = append(parts, s[:w])
		s = s[w:]
	}
	return strings.Join(append(parts, s), sep)
}

func (g gen) dress(s string) string {
	switch g.r.IntN(4) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		var b strings.Builder
		for _, c := range s {
			b.WriteRune(c)
			if g.r.IntN(4) == 0 {
				b.WriteString(g.pick(blanks))
			}
		}
		return b.String()
	case 2:
		return strings.NewReplacer(":", "%3A", "/", "%2F", ";", "%3b", ",", "%2C").Replace(s)
	}
	return s
}

func (g gen) piece() string {
	alpha := b64std
	if g.r.IntN(3) == 0 {
		alpha = b64url
	}
	switch g.r.IntN(9) {
	case 0, 1:
		return g.pick(words)
	case 2:
		return g.wrap(g.pick(magics) + g.run(g.r.IntN(100), alpha))
	case 3:
		return g.wrap(g.run(g.r.IntN(700), alpha) + strings.Repeat("=", g.r.IntN(3)))
	case 4:
		mime := g.pick([]string{"image/png", "video/mp4", "audio/ogg;codecs=opus", "", "text/plain", "foo/bar", "image/svg+xml;utf8"})
		params := g.pick([]string{";base64", "", "; base64", ";name=\"a,b\";base64"})
		return g.dress("data:"+mime+params+g.pick([]string{",", ", ", ""})) + g.run(g.r.IntN(40), alpha)
	case 5:
		return fmt.Sprintf("%x", g.r.Uint64()) + fmt.Sprintf("%x", g.r.Uint64())
	case 6:
		return "https://example.com/" + g.run(g.r.IntN(120), b64url) + "?t=" + g.run(g.r.IntN(120), b64std)
	case 7:
		return base64.StdEncoding.EncodeToString([]byte(g.pick(words) + g.pick(words)))
	}
	return g.run(g.r.IntN(30), "abcdefghijklmnopqrstuvwxyz0123456789 %:;,=./")
}

func (g gen) text() string {
	n := 1 + g.r.IntN(6)
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, g.piece())
	}
	return strings.Join(parts, g.pick(blanks))
}

// TestDifferentialSQLAndGo feeds the same generated strings to private.media_check_string
// and to the Go rule, as free text and as media URLs, and demands the same verdict and kind.
func TestDifferentialSQLAndGo(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	g := gen{rand.New(rand.NewPCG(42, 2026))}
	const n = 4000
	inputs := make([]string, n)
	for i := range inputs {
		inputs[i] = g.text()
		if i%3 == 0 {
			path := g.run(1+g.r.IntN(60), "abcdef0123456789-/.") + g.pick([]string{".png", "", "?token=" + g.run(g.r.IntN(200), b64url)})
			if g.r.IntN(4) == 0 {
				path = g.text()
			}
			inputs[i] = defaultStorageBaseURL + "/storage/v1/object/" + g.pick([]string{"", "public/", "sign/"}) +
				g.pick([]string{"headshots", "headshots", "video-samples"}) + "/" + path
		}
	}
	guard := New("")
	check := func(name, sql string, minRefused, minAccepted int, goVerdict func(string) string) {
		rows, err := db.Pool.Query(ctx, sql, inputs)
		require.NoError(t, err)
		defer rows.Close()
		mismatches, refused := 0, 0
		for i := 0; rows.Next(); i++ {
			var sqlKind *string
			require.NoError(t, rows.Scan(&sqlKind))
			sk := ""
			if sqlKind != nil {
				sk = strings.SplitN(*sqlKind, " ", 2)[0]
				refused++
			}
			if gk := goVerdict(inputs[i]); gk != sk {
				mismatches++
				if mismatches <= 10 {
					t.Errorf("%s: input %q: SQL says %q, Go says %q", name, inputs[i], sk, gk)
				}
			}
		}
		require.NoError(t, rows.Err())
		t.Logf("%s: %d inputs, %d refused, %d mismatches", name, n, refused, mismatches)
		require.Greater(t, refused, minRefused, "the generator must exercise refusals")
		require.Greater(t, n-refused, minAccepted, "the generator must exercise acceptances")
	}
	check("free text", `select private.media_check_string(v) from unnest($1::text[]) with ordinality u (v, i) order by i`,
		n/10, n/10, func(s string) string { f, _ := inspectString(s); return f.Kind })
	check("headshot url", `select private.media_check_string(v, 'headshots', 'http://127.0.0.1:54321') from unnest($1::text[]) with ordinality u (v, i) order by i`,
		n/10, n/20, func(s string) string {
			f, _ := inspectURL(s, "headshots", guard.base, guard.paths["headshots"])
			return f.Kind
		})
}

// TestDifferentialJSONB compares verdicts on generated JSON documents (values and keys).
func TestDifferentialJSONB(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	g := gen{rand.New(rand.NewPCG(7, 11))}
	var doc func(depth int) any
	doc = func(depth int) any {
		switch k := g.r.IntN(5); {
		case depth > 3 || k == 0:
			if g.r.IntN(4) == 0 {
				return g.r.IntN(100)
			}
			return g.text()
		case k <= 2:
			m := map[string]any{}
			for i := 0; i < 1+g.r.IntN(4); i++ {
				key := g.pick([]string{"name", "photo", "steps", "data:", "a b"})
				if g.r.IntN(8) == 0 {
					key = g.text()
				}
				m[key] = doc(depth + 1)
			}
			return m
		default:
			a := []any{}
			for i := 0; i < g.r.IntN(4); i++ {
				a = append(a, doc(depth+1))
			}
			return a
		}
	}
	guard := New("")
	const n = 600
	docs := make([]string, n)
	vals := make([]any, n)
	for i := range docs {
		vals[i] = map[string]any{"root": doc(0)}
		b, err := json.Marshal(vals[i])
		require.NoError(t, err)
		docs[i] = string(b)
		// Decode as the sidecar would see it (numbers as float64).
		require.NoError(t, json.Unmarshal(b, &vals[i]))
	}
	rows, err := db.Pool.Query(ctx, `select (select count(*) from private.media_check_jsonb(d::jsonb, 'form_data'))
		from unnest($1::text[]) with ordinality u (d, i) order by i`, docs)
	require.NoError(t, err)
	defer rows.Close()
	mismatches, refused := 0, 0
	for i := 0; rows.Next(); i++ {
		var c int
		require.NoError(t, rows.Scan(&c))
		goBad := len(guard.Check("onboarding_progress", "form_data", vals[i])) > 0
		if c > 0 {
			refused++
		}
		if goBad != (c > 0) {
			mismatches++
			if mismatches <= 5 {
				t.Errorf("doc %s: SQL refused=%v, Go refused=%v", docs[i], c > 0, goBad)
			}
		}
	}
	require.NoError(t, rows.Err())
	t.Logf("jsonb: %d docs, %d refused, %d mismatches", n, refused, mismatches)
	require.Greater(t, refused, n/10)
	require.Less(t, refused, n*9/10)
}
