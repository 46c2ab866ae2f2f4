// Package mediaguard is the Go twin of the database's inline-media guard: media
// belong in Supabase Storage and rows hold URLs. The database refuses offending
// writes by trigger (migrations/20261121002000_media_guard.sql); this package applies
// the same rule where the trigger cannot have run (a disabled trigger,
// session_replication_role = replica, data older than the guard): the sidecar's
// change handler, `sidecar media scan` and `sidecar media migrate`.
package mediaguard

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// defaultStorageBaseURL is the Supabase local API address, the database's default too.
const defaultStorageBaseURL = "http://127.0.0.1:54321"

// Column kinds.
type kind int

const (
	freeText kind = iota // text, text[] or jsonb holding prose and data
	mediaURL             // text or text[] of Storage object URLs of one bucket
)

type column struct {
	name   string
	kind   kind
	bucket string
}

// guardedColumns lists, per table, every column the guard covers (the columns a talent or
// an admin writes). It is the same list the SQL triggers check.
var guardedColumns = map[string][]column{
	"talent_profiles": {
		{name: "name"}, {name: "email"}, {name: "phone"}, {name: "location"},
		{name: "headshot_urls", kind: mediaURL, bucket: "headshots"},
		{name: "video_sample_url", kind: mediaURL, bucket: "video-samples"},
		{name: "freeform_audio_url", kind: mediaURL, bucket: "interview-audio"},
		{name: "tone_categories"}, {name: "personality_traits"}, {name: "custom_tone"},
		{name: "predefined_answers"}, {name: "freeform_text"}, {name: "admin_notes"},
		{name: "rejection_reason"}, {name: "session_id"},
	},
	"onboarding_progress": {
		{name: "session_id"}, {name: "form_data"},
	},
}

// GuardedColumns returns the names of the columns the guard covers, per table (all
// in schema public), in guardedColumns' order: what `sidecar doctor` expects the
// guard triggers to fire on.
func GuardedColumns() map[string][]string {
	out := make(map[string][]string, len(guardedColumns))
	for t, cols := range guardedColumns {
		for _, c := range cols {
			out[t] = append(out[t], c.name)
		}
	}
	return out
}

// Violation is one offending value.
type Violation struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	// Path locates the value inside the column: the column name, then [i] for a
	// 0-based array index and .key (or ["key"]) for a JSON member; a JSON key that
	// is itself offending ends in "{key}".
	Path        string `json:"path"`
	Size        int    `json:"size"`         // bytes of the offending string
	GuessedType string `json:"guessed_type"` // MIME type when recognisable, else ""
	Kind        string `json:"kind"`         // KindDataURI, KindBase64Media, ...
	Reason      string `json:"reason"`
	Value       string `json:"-"` // the offending string itself (for migration)
}

func (v Violation) String() string {
	return fmt.Sprintf("%s.%s at %s: %s", v.Table, v.Column, v.Path, v.Reason)
}

// Guard applies the rule with one Storage base URL. It is safe for concurrent use.
type Guard struct {
	base  string
	paths map[string]*regexp.Regexp
}

// New returns a Guard accepting media URLs under storageBaseURL (for example
// https://<ref>.supabase.co); empty means defaultStorageBaseURL.
func New(storageBaseURL string) *Guard {
	if storageBaseURL == "" {
		storageBaseURL = defaultStorageBaseURL
	}
	g := &Guard{base: strings.TrimRight(storageBaseURL, "/"), paths: map[string]*regexp.Regexp{}}
	for _, cols := range guardedColumns {
		for _, c := range cols {
			if c.kind == mediaURL {
				g.paths[c.bucket] = storagePathRE(c.bucket)
			}
		}
	}
	return g
}

// BaseURL is the Storage base URL media URLs must start with.
func (g *Guard) BaseURL() string { return g.base }

func lookup(table, col string) (column, bool) {
	for _, c := range guardedColumns[table] {
		if c.name == col {
			return c, true
		}
	}
	return column{}, false
}

// Check applies the rule to one column value: nil, a string, []string, []any or
// map[string]any nested arbitrarily (as decoded JSON), or json.RawMessage/[]byte
// holding JSON. A column the guard does not know is treated as free text.
func (g *Guard) Check(table, col string, value any) []Violation {
	c, ok := lookup(table, col)
	if !ok {
		c = column{name: col}
	}
	w := walker{g: g, table: table, col: c}
	w.walk(col, value, 0)
	return w.out
}

// CheckRow applies the rule to every covered column of row.
func (g *Guard) CheckRow(table string, row map[string]any) []Violation {
	var out []Violation
	for _, c := range guardedColumns[table] {
		if v, ok := row[c.name]; ok {
			out = append(out, g.Check(table, c.name, v)...)
		}
	}
	return out
}

// Covered reports whether the guard knows table.
func Covered(table string) bool { _, ok := guardedColumns[table]; return ok }

type walker struct {
	g     *Guard
	table string
	col   column
	out   []Violation
}

// maxDepth bounds recursion on hostile input; Postgres jsonb nests at most this deep anyway.
const maxDepth = 10000

func (w *walker) walk(path string, v any, depth int) {
	if depth > maxDepth {
		return
	}
	switch x := v.(type) {
	case nil:
	case string:
		w.leaf(path, x, depth)
	case []string:
		for i, s := range x {
			w.leaf(path+"["+strconv.Itoa(i)+"]", s, depth+1)
		}
	case []any:
		for i, e := range x {
			w.walk(path+"["+strconv.Itoa(i)+"]", e, depth+1)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortJSONBKeys(keys)
		for _, k := range keys {
			p := path + pathKey(k)
			if f, ok := inspectString(k); !ok {
				w.add(p+"{key}", k, f)
			}
			w.walk(p, x[k], depth+1)
		}
	case json.RawMessage:
		w.walkJSON(path, x, depth)
	case []byte:
		w.walkJSON(path, x, depth)
	default:
		// numbers and booleans hold no media
	}
}

func (w *walker) walkJSON(path string, raw []byte, depth int) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		w.leaf(path, string(raw), depth)
		return
	}
	w.walk(path, v, depth)
}

func (w *walker) leaf(path, s string, depth int) {
	var (
		f  finding
		ok bool
	)
	if w.col.kind == mediaURL && depth <= 1 {
		f, ok = inspectURL(s, w.col.bucket, w.g.base, w.g.paths[w.col.bucket])
	} else {
		f, ok = inspectString(s)
	}
	if !ok {
		w.add(path, s, f)
	}
}

func (w *walker) add(path, s string, f finding) {
	w.out = append(w.out, Violation{
		Table: w.table, Column: w.col.name, Path: path, Size: len(s),
		GuessedType: f.Type, Kind: f.Kind, Reason: w.reason(f, len(s)), Value: s,
	})
}

func (w *walker) reason(f finding, size int) string {
	switch f.Kind {
	case KindDataURI:
		if f.Type != "" {
			return fmt.Sprintf("a data: URI (%s, %d bytes)", f.Type, size)
		}
		return fmt.Sprintf("a data: URI (%d bytes)", size)
	case KindBase64Media:
		return fmt.Sprintf("base64 that starts like %s (%d bytes)", f.Type, size)
	case KindBase64Blob:
		return fmt.Sprintf("a base64 blob (%d bytes)", size)
	case KindNotStorage:
		return fmt.Sprintf("not a URL of this project's Storage bucket %s (%s/storage/v1/object/[public/|sign/|authenticated/]%s/<path>)",
			w.col.bucket, w.g.base, w.col.bucket)
	}
	return f.Kind
}

var identKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// pathKey renders a JSON member step: .key for identifiers, ["key"] otherwise; keys
// longer than 40 characters are cut (a key can itself be the blob).
func pathKey(k string) string {
	if identKey.MatchString(k) && len(k) <= 40 {
		return "." + k
	}
	r := []rune(k)
	if len(r) > 40 {
		k = string(r[:40]) + "…"
	}
	return `["` + strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `"`, `\"`) + `"]`
}

// sortJSONBKeys orders keys as jsonb stores them (shorter first, then bytewise), so
// violations come in the order the SQL walk meets them.
func sortJSONBKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
}
