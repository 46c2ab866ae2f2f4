// Package rowjson normalises row values so that a row decoded from logical
// replication and the same row received as JSON from a Supabase database webhook are
// equal value for value. Idempotency keys are derived from row values, so a
// difference in shape (int64 against float64, two spellings of one instant) would
// make one change look like two.
package rowjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
)

// Time is the one spelling of an instant in a change.Row: RFC 3339 in UTC with
// microseconds trimmed of trailing zeros (Postgres keeps microseconds).
func Time(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// Normalize maps decoded JSON (decoded with UseNumber) onto change.Row's value set:
// integral numbers become int64, other numbers float64, recursively.
func Normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return string(x)
		}
		if f == float64(int64(f)) && !strings.ContainsAny(string(x), "eE") && f < 1<<53 && f > -(1<<53) {
			return int64(f)
		}
		return f
	case float64:
		if x == float64(int64(x)) && x < 1<<53 && x > -(1<<53) {
			return int64(x)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = Normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = Normalize(e)
		}
		return x
	default:
		return v
	}
}

// Decode parses a JSON object (a webhook record, or to_jsonb of a row) into a
// normalised row.
func Decode(data []byte) (change.Row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return Row(m), nil
}

// Row normalises a row received as JSON: numbers as Normalize, and the timestamp
// columns (named *_at by this schema's convention) respelled with Time, because
// to_jsonb writes "2025-01-02T03:04:05.123456+00:00" where replication decodes an
// instant.
func Row(r map[string]any) change.Row {
	if r == nil {
		return nil
	}
	for k, v := range r {
		v = Normalize(v)
		if s, ok := v.(string); ok && strings.HasSuffix(k, "_at") {
			if t, err := parseTime(s); err == nil {
				v = Time(t)
			}
		}
		r[k] = v
	}
	return change.Row(r)
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// Postgres' own text form, in case a payload was built with ::text.
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &time.ParseError{Value: s}
}
