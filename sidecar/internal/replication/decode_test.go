package replication

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// step is one row change of talent_profiles and the rows Postgres says it had,
// as to_jsonb (the shape of a Supabase webhook's record).
type step struct {
	op       change.Op
	old, new []byte
}

// A row decoded from pgoutput equals the same row received as JSON by the webhook
// input, value for value: every column type of talent_profiles, non-empty and empty
// jsonb and arrays, Unicode and quoting, an unchanged TOASTed value ('u' in the new
// tuple), instants with and without fractional seconds, and nulls. Under a UTC
// session instants take the decoder's direct path; under another time zone the
// general one; both must agree with the webhook's spelling.
func TestDecodedRowsEqualWebhookRows(t *testing.T) {
	for _, tz := range []string{"UTC", "Asia/Kolkata"} {
		t.Run(tz, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			ctx := context.Background()
			// Every kind of change, deletes included (the sidecar's own publications
			// leave deletes out: the decoder must still read them).
			_, err := db.Pool.Exec(ctx, `create publication decode_test for table public.talent_profiles`)
			require.NoError(t, err)
			// The decoder reads any JSON: this database drops the checks that hold the
			// two jsonb columns to the specification's shapes, so they can carry
			// nesting, floats and big numbers.
			_, err = db.Pool.Exec(ctx, `alter table public.talent_profiles
				drop constraint talent_profiles_personality_traits_shape,
				drop constraint talent_profiles_predefined_answers_shape`)
			require.NoError(t, err)
			_, err = db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, db.Name)
			require.NoError(t, err)

			var steps []step
			var id string
			row := func(sql string, args ...any) []byte {
				var b []byte
				require.NoError(t, db.Pool.QueryRow(ctx, sql, args...).Scan(&b))
				return b
			}
			current := func() []byte {
				return row(`select to_jsonb(p) from public.talent_profiles p where id = $1`, id)
			}
			var user string
			require.NoError(t, db.Pool.QueryRow(ctx, `insert into auth.users (id, email) values (gen_random_uuid(), 'zoe@example.com') returning id`).Scan(&user))
			inserted := row(`insert into public.talent_profiles (user_id, name, email) values ($1, 'Zoe', 'zoe@example.com') returning to_jsonb(talent_profiles.*)`, user)
			var m map[string]any
			require.NoError(t, json.Unmarshal(inserted, &m))
			id = m["id"].(string)
			steps = append(steps, step{op: change.Insert, new: inserted})

			updates := []string{
				// Many columns at once, a long text that is stored out of line.
				`update public.talent_profiles set name = 'Zoë 山田 "quoted" \ back', phone = '+1 555 0100',
				   freeform_text = (select string_agg('lorem ' || md5(i::text) || ' ipsum.', ' ') from generate_series(1, 400) i),
				   personality_traits = '{"calm": 3}',
				   predefined_answers = '{"q1": "yes", "n": 1.5, "big": 12345678901234, "arr": [1, {"x": null}], "s": "a\"b"}',
				   tone_categories = '{"warm","dry, witty","a\"b"}',
				   submitted_at = '2026-01-02 03:04:05.1+00', approved_at = '2026-01-02 03:04:05+00'
				 where id = $1`,
				// The long text is unchanged: the new tuple carries it as 'u'.
				`update public.talent_profiles set name = 'Zoe again', activated_at = '1999-12-31 23:59:59.999999+00',
				   submitted_at = '2026-06-30 12:00:00.000001+00', approved_at = null where id = $1`,
				// Back to empty values.
				`update public.talent_profiles set predefined_answers = '{}', tone_categories = '{}', phone = null,
				   activated_at = '2026-03-29 01:30:00.12+00' where id = $1`,
			}
			for _, u := range updates {
				old := current()
				_, err := db.Pool.Exec(ctx, u, id)
				require.NoError(t, err)
				steps = append(steps, step{op: change.Update, old: old, new: current()})
			}
			old := current()
			_, err = db.Pool.Exec(ctx, `delete from public.talent_profiles where id = $1`, id)
			require.NoError(t, err)
			steps = append(steps, step{op: change.Delete, old: old})

			got, unchanged := peekDecoded(t, db, tz)
			require.Len(t, got, len(steps))
			for i, s := range steps {
				ev := got[i]
				require.Equal(t, s.op, ev.Op, "change %d", i)
				require.Equal(t, webhookRow(t, s.old), ev.Old, "change %d (%s): old row", i, s.op)
				require.Equal(t, webhookRow(t, s.new), ev.New, "change %d (%s): new row", i, s.op)
			}
			// The unchanged out-of-line value really was sent as 'u' (else this test
			// would not cover the fallback).
			require.Positive(t, unchanged)
		})
	}
}

// webhookRow is what the webhook input makes of a record.
func webhookRow(t *testing.T, b []byte) change.Row {
	t.Helper()
	if b == nil {
		return nil
	}
	r, err := rowjson.Decode(b)
	require.NoError(t, err)
	return r
}

// peekDecoded decodes the slot's talent_profiles changes, read over SQL in a session
// with the given time zone, with the stream's decoder. It also counts the values
// sent as unchanged ('u').
func peekDecoded(t *testing.T, db *testdb.DB, tz string) ([]*change.Event, int) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, fmt.Sprintf(`set timezone = '%s'; set datestyle = 'ISO, MDY'`, tz))
	require.NoError(t, err)
	rows, err := conn.Query(ctx, `select data from pg_logical_slot_peek_binary_changes($1, null, null,
		'proto_version', '1', 'publication_names', 'decode_test')`, db.Name)
	require.NoError(t, err)
	msgs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `reset timezone; reset datestyle`)
	require.NoError(t, err)

	dec := newDecoder()
	var out []*change.Event
	unchanged := 0
	for _, data := range msgs {
		switch data[0] {
		case 'R':
			m, err := pglogrepl.Parse(data)
			require.NoError(t, err)
			rel := m.(*pglogrepl.RelationMessage)
			dec.relations[rel.RelationID] = rel
		case 'I', 'U', 'D':
			m, err := dec.parseRowMessage(data)
			require.NoError(t, err)
			e, err := dec.event(m)
			require.NoError(t, err)
			if e.Table != "talent_profiles" {
				continue
			}
			for _, c := range m.new {
				if c.kind == 'u' {
					unchanged++
				}
			}
			// The next message reuses the buffers: decoded rows must not alias them.
			for i := range data {
				data[i] = 0xff
			}
			out = append(out, e)
		}
	}
	return out, unchanged
}

// isoUTC agrees with rowjson.Time for every instant Postgres prints in a UTC
// session, and refuses what it cannot respell.
func TestISOUTC(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		sec := rng.Int63n(253402300799) // 0001-01-01 .. 9999-12-31, from 1970 either way
		if rng.Intn(2) == 0 {
			sec = -rng.Int63n(62135596800)
		}
		usec := int64(0)
		switch rng.Intn(4) {
		case 1:
			usec = rng.Int63n(1000000)
		case 2:
			usec = rng.Int63n(10) * 100000
		case 3:
			usec = 1
		}
		tm := time.Unix(sec, usec*1000).UTC()
		pg := postgresText(tm)
		got, ok := isoUTC([]byte(pg))
		require.True(t, ok, pg)
		require.Equal(t, rowjson.Time(tm), got, pg)
	}
	// Zeros Postgres would have trimmed are trimmed all the same.
	for in, want := range map[string]string{
		"2026-01-02 03:04:05.100000+00": "2026-01-02T03:04:05.1Z",
		"2026-01-02 03:04:05.000000+00": "2026-01-02T03:04:05Z",
	} {
		got, ok := isoUTC([]byte(in))
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, s := range []string{
		"infinity", "-infinity", "", "2026-01-02", "2026-01-02 03:04:05+05:30", "2026-01-02 03:04:05-07",
		"2026-01-02 03:04:05+00 BC", "12026-01-02 03:04:05+00", "2026-01-02T03:04:05+00", "2026-01-02 03:04:05.+00",
		"2026-01-02 03:04:05.1234567890+00", "2026-01-02 03:04:05.12a+00", "2026-0a-02 03:04:05+00",
		"2026-01-02 03:04:05,1+00", strings.Repeat("9", 40) + "+00",
	} {
		_, ok := isoUTC([]byte(s))
		require.False(t, ok, "%q must take the general path", s)
	}
}

// postgresText is timestamptz's output in a UTC session with DateStyle ISO:
// microseconds with trailing zeros trimmed, no fraction when zero.
func postgresText(t time.Time) string {
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", us), "0")
	}
	return s + "+00"
}

// A malformed or truncated row message is an error, never a panic or a read past
// the message: every prefix of real messages, and lengths that lie.
func TestParseRowMessageRefusesMalformed(t *testing.T) {
	cols := func(vals ...string) []byte {
		b := []byte{0, byte(len(vals))}
		for _, v := range vals {
			if v == "\x00null" {
				b = append(b, 'n')
				continue
			}
			b = append(b, 't', 0, 0, 0, byte(len(v)))
			b = append(b, v...)
		}
		return b
	}
	rel := []byte{0, 0, 0, 7}
	update := append(append(append(append([]byte{'U'}, rel...), 'O'), cols("a", "\x00null", "c")...), append([]byte{'N'}, cols("a", "b", "c")...)...)
	insert := append(append(append([]byte{'I'}, rel...), 'N'), cols("x")...)
	del := append(append(append([]byte{'D'}, rel...), 'K'), cols("k")...)

	d := newDecoder()
	for _, msg := range [][]byte{update, insert, del} {
		m, err := d.parseRowMessage(msg)
		require.NoError(t, err)
		require.Equal(t, uint32(7), m.relation)
		for n := 1; n < len(msg); n++ {
			_, err := d.parseRowMessage(msg[:n])
			require.Error(t, err, "prefix %d of %q", n, msg)
		}
	}
	m, err := d.parseRowMessage(update)
	require.NoError(t, err)
	require.Equal(t, change.Update, m.op)
	require.Equal(t, []column{{'t', []byte("a")}, {'n', nil}, {'t', []byte("c")}}, m.old)
	require.Equal(t, []column{{'t', []byte("a")}, {'t', []byte("b")}, {'t', []byte("c")}}, m.new)

	bad := map[string][]byte{
		"length past the end":   append(append([]byte{'I'}, rel...), 'N', 0, 1, 't', 0, 0, 0, 9, 'x'),
		"negative length":       append(append([]byte{'I'}, rel...), 'N', 0, 1, 't', 0xff, 0xff, 0xff, 0xff, 'x'),
		"unknown column kind":   append(append([]byte{'I'}, rel...), 'N', 0, 1, 'z'),
		"trailing bytes":        append(append(append([]byte{'I'}, rel...), 'N'), append(cols("x"), 'Q')...),
		"insert with old tuple": append(append(append([]byte{'I'}, rel...), 'O'), cols("x")...),
		"delete with new tuple": append(append(append([]byte{'D'}, rel...), 'N'), cols("x")...),
		"two new tuples":        append(append(append(append([]byte{'I'}, rel...), 'N'), cols("x")...), append([]byte{'N'}, cols("y")...)...),
		"update without new":    append(append(append([]byte{'U'}, rel...), 'O'), cols("x")...),
		"not a row change":      append([]byte{'B'}, rel...),
	}
	for name, msg := range bad {
		_, err := d.parseRowMessage(msg)
		require.Error(t, err, name)
	}
}

// changed names, from the raw tuples, the columns an insert or update writes: an
// update's unchanged values (equal bytes, or an unchanged TOASTed value) are not
// named; a delete writes none.
func TestChangedColumnsFromRawTuples(t *testing.T) {
	d := newDecoder()
	rel := &pglogrepl.RelationMessage{RelationName: "t", Columns: []*pglogrepl.RelationMessageColumn{
		{Name: "id"}, {Name: "a"}, {Name: "b"}, {Name: "big"}, {Name: "gone"}}}
	txt := func(s string) column { return column{kind: 't', data: []byte(s)} }
	null := column{kind: 'n'}
	old := []column{txt("1"), txt("x"), txt("y"), txt("long"), txt("z")}
	upd := rowMessage{op: change.Update, old: old, new: []column{txt("1"), txt("x"), txt("Y"), {kind: 'u'}, null}}
	require.Equal(t, []string{"b", "gone"}, d.changed(rel, upd))
	ins := rowMessage{op: change.Insert, new: []column{txt("1"), null, txt("y"), txt("long"), null}}
	require.Equal(t, []string{"id", "b", "big"}, d.changed(rel, ins))
	require.Empty(t, d.changed(rel, rowMessage{op: change.Delete, old: old}))
}
