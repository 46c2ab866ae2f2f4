package mediaguard

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// The guard triggers start with an inline fast path (migrations
// 20261203200100_media_guard_inline.sql and
// 20261203230000_media_guard_fast_path_smaller.sql) that accepts a row without
// calling the full checks. TestFastPathNeverAcceptsARefusal writes the corpus and
// generated rows through the trigger, observes whether the fast path decided (no call of the full
// checks' functions, counted by track_functions), and compares every verdict with the
// full rule applied column by column (private.media_check_string / media_check_jsonb,
// which the fast path does not use): the fast path must never accept a row the full
// rule refuses, and the trigger must refuse exactly the rows the full rule refuses.

// fpOracle is the full rule over a talent_profiles row: the columns an insert (or the
// changed columns of an update) hold, each checked by the rule's own functions.
const fpOracle = `create function public.fp_refused(n public.talent_profiles, o public.talent_profiles, ins boolean)
returns boolean language sql as $$
  select coalesce(bool_or(r), false) from (values
    ((ins or n.headshot_urls is distinct from o.headshot_urls) and exists (select 1 from unnest(n.headshot_urls) e
      where private.media_check_string(e, 'headshots', private.media_storage_base_url()) is not null)),
    ((ins or n.video_sample_url is distinct from o.video_sample_url)
      and private.media_check_string(n.video_sample_url, 'video-samples', private.media_storage_base_url()) is not null),
    ((ins or n.freeform_audio_url is distinct from o.freeform_audio_url)
      and private.media_check_string(n.freeform_audio_url, 'interview-audio', private.media_storage_base_url()) is not null),
    ((ins or n.name is distinct from o.name) and private.media_check_string(n.name) is not null),
    ((ins or n.email is distinct from o.email) and private.media_check_string(n.email) is not null),
    ((ins or n.phone is distinct from o.phone) and private.media_check_string(n.phone) is not null),
    ((ins or n.location is distinct from o.location) and private.media_check_string(n.location) is not null),
    ((ins or n.tone_categories is distinct from o.tone_categories) and exists (select 1 from unnest(n.tone_categories) e
      where private.media_check_string(e) is not null)),
    ((ins or n.personality_traits is distinct from o.personality_traits)
      and exists (select 1 from private.media_check_jsonb(n.personality_traits, 'personality_traits'))),
    ((ins or n.custom_tone is distinct from o.custom_tone) and private.media_check_string(n.custom_tone) is not null),
    ((ins or n.predefined_answers is distinct from o.predefined_answers)
      and exists (select 1 from private.media_check_jsonb(n.predefined_answers, 'predefined_answers'))),
    ((ins or n.freeform_text is distinct from o.freeform_text) and private.media_check_string(n.freeform_text) is not null),
    ((ins or n.admin_notes is distinct from o.admin_notes) and private.media_check_string(n.admin_notes) is not null),
    ((ins or n.rejection_reason is distinct from o.rejection_reason) and private.media_check_string(n.rejection_reason) is not null),
    ((ins or n.session_id is distinct from o.session_id) and private.media_check_string(n.session_id) is not null)
  ) v (r)
$$;
create function public.fp_refused_progress(n public.onboarding_progress, o public.onboarding_progress, ins boolean)
returns boolean language sql as $$
  select ((ins or n.session_id is distinct from o.session_id) and private.media_check_string(n.session_id) is not null)
      or ((ins or n.form_data is distinct from o.form_data) and exists (select 1 from private.media_check_jsonb(n.form_data, 'form_data')))
$$;`

// fpFull are the functions only the full checks call: a write that calls none of
// them was decided by the fast path.
const fpFull = `select coalesce(sum(calls), 0)::int from pg_stat_xact_user_functions where schemaname = 'private'
	and funcname in ('media_url_fast', 'media_suspect', 'media_guard_text', 'media_guard_array', 'media_guard_jsonb', 'media_check_string')`

var guardRefusal = regexp.MustCompile(`inline media refused in |must hold a URL of this project's Storage bucket`)

// fpRow is one write: the table, the columns it sets (as JSON, read by
// jsonb_populate_record) and, for an update, the columns the row held before.
type fpRow struct {
	table  string
	set    map[string]any
	before map[string]any // nil: an insert
}

type fpTally struct{ fast, slowAccepted, refused, skipped int }

// fpWrite performs r in a rolled-back transaction and checks it against the full rule.
func fpWrite(t *testing.T, conn *pgx.Conn, r fpRow, tally *fpTally) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `set local track_functions = 'all'`)
	require.NoError(t, err)
	var user string
	require.NoError(t, tx.QueryRow(ctx, `insert into auth.users (id, email) values (gen_random_uuid(), gen_random_uuid() || '@fast.example.com')
		returning id::text`).Scan(&user))
	cols := make([]string, 0, len(r.set))
	for c := range r.set {
		cols = append(cols, c)
	}
	set, err := json.Marshal(r.set)
	require.NoError(t, err)
	oracle := `select public.fp_refused(n, o, $3) from jsonb_populate_record(coalesce((select t from public.talent_profiles t where user_id = $1), null::public.talent_profiles), $2) n
		left join public.talent_profiles o on o.user_id = $1`
	if r.table == "onboarding_progress" {
		oracle = `select public.fp_refused_progress(n, o, $3) from jsonb_populate_record(coalesce((select t from public.onboarding_progress t where user_id = $1), null::public.onboarding_progress), $2) n
			left join public.onboarding_progress o on o.user_id = $1`
	}
	var write string
	if r.before != nil {
		before, err := json.Marshal(r.before)
		require.NoError(t, err)
		var bcols []string
		for c := range r.before {
			bcols = append(bcols, c)
		}
		_, err = tx.Exec(ctx, `set local session_replication_role = replica`)
		require.NoError(t, err)
		// A generated row the table's constraints refuse is stored as a bare row instead.
		_, err = tx.Exec(ctx, `savepoint b`)
		require.NoError(t, err)
		if _, err = tx.Exec(ctx, fmt.Sprintf(`insert into public.%s (user_id, %s) select $1, %s from jsonb_populate_record(null::public.%[1]s, $2) r`,
			r.table, strings.Join(bcols, ", "), "r."+strings.Join(bcols, ", r.")), user, before); err != nil {
			_, err = tx.Exec(ctx, `rollback to savepoint b`)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, fmt.Sprintf(`insert into public.%s (user_id) values ($1)`, r.table), user)
			require.NoError(t, err)
		}
		_, err = tx.Exec(ctx, `set local session_replication_role = origin`)
		require.NoError(t, err)
		var assign []string
		for _, c := range cols {
			assign = append(assign, c+" = r."+c)
		}
		write = fmt.Sprintf(`update public.%s t set %s from jsonb_populate_record(null::public.%[1]s, $2) r where t.user_id = $1`,
			r.table, strings.Join(assign, ", "))
	} else {
		write = fmt.Sprintf(`insert into public.%s (user_id, %s) select $1, %s from jsonb_populate_record(null::public.%[1]s, $2) r`,
			r.table, strings.Join(cols, ", "), "r."+strings.Join(cols, ", r."))
	}
	var refused bool
	require.NoError(t, tx.QueryRow(ctx, oracle, user, set, r.before == nil).Scan(&refused))
	var full0 int
	require.NoError(t, tx.QueryRow(ctx, fpFull).Scan(&full0))
	_, err = tx.Exec(ctx, `savepoint w`)
	require.NoError(t, err)
	_, werr := tx.Exec(ctx, write, user, set)
	if werr != nil {
		_, err = tx.Exec(ctx, `rollback to savepoint w`)
		require.NoError(t, err)
	}
	var full1, guardCalls int
	require.NoError(t, tx.QueryRow(ctx, fpFull).Scan(&full1))
	require.NoError(t, tx.QueryRow(ctx, `select coalesce(sum(calls), 0)::int from pg_stat_xact_user_functions
		where schemaname = 'private' and funcname in ('talent_profiles_media_guard', 'onboarding_progress_media_guard')`).Scan(&guardCalls))
	switch {
	case werr != nil && guardRefusal.MatchString(werr.Error()):
		tally.refused++
		if !refused {
			t.Errorf("%s %s: the trigger refused what the full rule accepts: %v", r.table, set, werr)
		}
	case guardCalls == 0:
		// Something before the guard refused the row (the state machine's trigger).
		tally.skipped++
	case full1 == full0:
		tally.fast++
		if refused {
			t.Errorf("%s %s: the FAST PATH accepted what the full rule refuses", r.table, set)
		}
	default:
		tally.slowAccepted++
		if refused {
			t.Errorf("%s %s: the trigger accepted what the full rule refuses", r.table, set)
		}
	}
}

// fpURLs are media URLs at and around the edge of the fast path (for bucket).
func fpURL(g gen, bucket string) string {
	base := defaultStorageBaseURL + "/storage/v1/object/"
	uid := fmt.Sprintf("%08x-0000-4000-b000-%012x", g.r.Uint32(), g.r.Uint64()&0xffffffffffff)
	name := g.pick([]string{"1.jpg", "sample.mp4", "intro.m4a", "a_b-c.d", "x"})
	switch g.r.IntN(48) {
	case 0:
		return base + "public/" + bucket + "/" + uid + "/" + name
	case 1:
		return base + "sign/" + bucket + "/" + uid + "/" + name + "?token=" + g.run(g.r.IntN(300), b64url)
	case 2:
		return base + "authenticated/" + bucket + "/" + uid + "/" + name
	case 3:
		return base + "sign/public/" + bucket + "/" + uid + "/" + name
	case 4:
		return base + g.pick([]string{"headshots", "video-samples", "interview-audio", "other"}) + "/" + uid + "/" + name
	case 5:
		return base + bucket + "/" + uid + "/" + g.pick([]string{"/9j/", "_9j_", "9j", "/9J/"}) + g.run(4+g.r.IntN(40), b64url)
	case 6:
		return base + bucket + "/" + uid + "/" + strings.Repeat(g.pick([]string{"a", "a/", "ab-", "a."}), 150+g.r.IntN(200))
	case 7:
		return base + bucket + "/" + uid + "/" + name + "?" + g.pick([]string{"a b", "a#b", "x\ty", "t=" + g.run(40, b64std), "", "?", "\x01"})
	case 8:
		return base + bucket + "/" + uid + "/" + strings.ToUpper(name)
	case 9:
		return g.pick([]string{"http://127.0.0.1:5432", "https://127.0.0.1:54321", "http://127.0.0.1:54321/x", "http://127a0.0.1:54321", ""}) +
			"/storage/v1/object/" + bucket + "/" + uid + "/" + name
	case 10:
		return base + bucket + "/" + g.pick([]string{"", "/", "#x", "a#b", "a\nb", "a\n", "\x01a", "é.jpg", "%2F9j%2F4AAQ", "a b"})
	case 11:
		return g.pick([]string{"", " ", "h" + base + bucket + "/a", "\n" + base + bucket + "/a"}) + g.pick([]string{"", base + bucket + "/" + name})
	case 12:
		return g.text()
	case 13:
		return base + bucket + "/" + g.run(1+g.r.IntN(80), "abcdefghijklmnopqrstuvwxyz0123456789._-/ABCZ+=%:")
	case 14:
		// A second URL on a line of its own, after the fast path's column tag: one
		// value that would read as two lines of the fast path's string.
		return base + bucket + "/" + uid + "/" + name + g.pick([]string{"\n", "\r\n", "\n\n"}) + g.pick([]string{"h", "v", "a", ""}) +
			base + bucket + "/" + uid + "/" + name
	}
	return base + bucket + "/" + uid + "/" + name
}

// fpText is free text: mostly plain (the fast path's case), sometimes at the edges.
func fpText(g gen, plain string) string {
	switch g.r.IntN(24) {
	case 0:
		return g.text()
	case 1:
		return plain + " " + g.piece()
	case 2:
		return plain + g.pick([]string{" data: 5 years", " a:", " A :", " 100%", "\nline", `\n`, " /9j/", " _9j_", " iVBORw0KGgo",
			" " + g.run(16, b64std), " " + g.run(63, b64url), " " + g.run(64, b64std), " " + g.run(20, b64std) + "\n", " " + g.run(20, b64std) + `==\n`})
	}
	return plain
}

func fpTalentRow(g gen, i int) map[string]any {
	r := typicalRow(i)
	heads := []any{}
	for j := 0; j < g.r.IntN(11); j++ {
		heads = append(heads, fpURL(g, "headshots"))
	}
	if g.r.IntN(20) == 0 {
		heads = append(heads, nil)
	}
	email := g.pick([]string{r.email, fmt.Sprintf("%08x-0000-4000-b000-%012x@bench.example.com", g.r.Uint32(), g.r.Uint64()&0xffffffffffff),
		"Talent@Example.com", "a%40b@example.com", "x9j@example.com", "mailto:a@example.com", strings.Repeat("a", 60) + "@example.com", "a\n@example.com", "a\\n@example.com",
		// Just inside and just outside the e-mail's fast test (no ASCII upper case,
		// '%', ':', "9j", line break or backslash; under 64 bytes).
		"Éa@example.com", "abcdefghijklmnopqrstu@example.com", "a\\b@example.com", "x_9j_y@example.com",
		strings.Repeat("b", 51) + "@example.com", strings.Repeat("b", 52) + "@example.com",
		// Refused by the full rule: an e-mail the fast test let through would show here.
		"iVBORw0KGgoAAAANSUhEUgAAAAE@example.com", "/9j/4AAQSkZJRgABAQ@example.com", "data:image/png;base64,iVBORw0KGgo@x.com"})
	all := map[string]any{
		"name": fpText(g, r.name), "email": email, "phone": r.phone, "location": fpText(g, r.location),
		"headshot_urls": heads, "video_sample_url": fpURL(g, "video-samples"), "freeform_audio_url": fpURL(g, "interview-audio"),
		"tone_categories": []any{fpText(g, "warm"), "conversational"}, "custom_tone": fpText(g, r.customTone),
		"freeform_text": fpText(g, r.freeform), "admin_notes": fpText(g, "ok"), "rejection_reason": fpText(g, "none"),
		"session_id":         fpText(g, r.session),
		"predefined_answers": map[string]any{"experience": fpText(g, "Nine years."), g.pick([]string{"k", "data:", "a:"}): fpText(g, "x")},
	}
	out := map[string]any{}
	for k, v := range all {
		if g.r.IntN(4) != 0 {
			out[k] = v
		}
	}
	out["freeform_text"] = all["freeform_text"]
	return out
}

func TestFastPathNeverAcceptsARefusal(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, fpOracle)
	require.NoError(t, err)

	var tally fpTally
	// The corpus, each value in a typical row, inserted and written over a typical row.
	for i, c := range loadCorpus(t) {
		row := map[string]any{}
		if c.Table == "talent_profiles" {
			tr := typicalRow(i)
			row = map[string]any{"name": tr.name, "freeform_text": tr.freeform, "headshot_urls": tr.headshots, "video_sample_url": tr.video}
		}
		row[c.Column] = c.Value
		fpWrite(t, conn.Conn(), fpRow{table: c.Table, set: row}, &tally)
		before := map[string]any{"session_id": "s"}
		if c.Table == "talent_profiles" {
			tr := typicalRow(i + 1)
			before = map[string]any{"name": tr.name, "freeform_text": tr.freeform, "headshot_urls": tr.headshots, "custom_tone": tr.customTone}
		}
		fpWrite(t, conn.Conn(), fpRow{table: c.Table, set: map[string]any{c.Column: c.Value}, before: before}, &tally)
	}
	t.Logf("corpus: %+v", tally)
	// One value that reads as two of the fast path's lines (a line break, then a
	// column's tag and a second URL), in an otherwise typical row, for every column,
	// tag and line break: the fast path must leave it to the full rule.
	crafted := 0
	for _, col := range []struct{ name, bucket string }{{"headshot_urls", "headshots"}, {"video_sample_url", "video-samples"}, {"freeform_audio_url", "interview-audio"}} {
		for _, tag := range []string{"h", "v", "a", ""} {
			for _, sep := range []string{"\n", "\r\n", "\n\n", "\r", "\t"} {
				tr := typicalRow(crafted)
				url := defaultStorageBaseURL + "/storage/v1/object/" + col.bucket + "/u/1.jpg"
				var v any = url + sep + tag + url
				if col.name == "headshot_urls" {
					v = []any{url, url + sep + tag + url}
				}
				row := map[string]any{"name": tr.name, "freeform_text": tr.freeform, col.name: v}
				fpWrite(t, conn.Conn(), fpRow{table: "talent_profiles", set: row}, &tally)
				crafted++
			}
		}
	}
	t.Logf("corpus and %d crafted URLs: %+v", crafted, tally)
	// Many headshots, each well under 512 bytes: the fast path decides them (it bounds
	// each URL, not the array joined). One long URL among them, clean or one long run,
	// is left to the full rule.
	for _, n := range []int{4, 10} {
		var heads []any
		for j := 0; j < n; j++ {
			heads = append(heads, fmt.Sprintf("%s/storage/v1/object/public/headshots/%08d-0000-4000-b000-%012d/photo-%d.jpg",
				defaultStorageBaseURL, n, crafted, j))
		}
		tr := typicalRow(crafted)
		before := tally.fast
		fpWrite(t, conn.Conn(), fpRow{table: "talent_profiles", set: map[string]any{"name": tr.name, "freeform_text": tr.freeform,
			"headshot_urls": heads}}, &tally)
		require.Equal(t, before+1, tally.fast, "%d headshots of %d bytes each: the fast path decides", n, len(heads[0].(string)))
		crafted++
		for _, long := range []string{strings.Repeat("ab.", 170), strings.Repeat("a", 520)} {
			h := append([]any{}, heads...)
			h[n/2] = defaultStorageBaseURL + "/storage/v1/object/headshots/u/" + long + ".jpg"
			before := tally.fast
			fpWrite(t, conn.Conn(), fpRow{table: "talent_profiles", set: map[string]any{"name": tr.name, "freeform_text": tr.freeform,
				"headshot_urls": h}}, &tally)
			require.Equal(t, before, tally.fast, "a headshot URL of %d bytes is the full rule's to judge", len(h[n/2].(string)))
			crafted++
		}
	}
	// Generated rows: inserts, and updates over a row that differs in some columns.
	g := gen{rand.New(rand.NewPCG(24, 3))}
	const n = 1500
	for i := 0; i < n; i++ {
		r := fpRow{table: "talent_profiles", set: fpTalentRow(g, i)}
		if i%2 == 1 {
			r.before = fpTalentRow(g, i)
			r.before["email"] = typicalRow(i).email // the stored row meets the table's constraints
			for k, v := range r.set {
				if g.r.IntN(3) == 0 {
					r.before[k] = v // unchanged by the update
				}
			}
		}
		if i%5 == 0 {
			r = fpRow{table: "onboarding_progress", set: map[string]any{"session_id": fpText(g, "sess-1"),
				"form_data": map[string]any{"steps": []any{map[string]any{"name": fpText(g, "Zoë"), g.pick([]string{"x", "a:"}): fpText(g, "y")}}}}}
			if i%10 == 0 {
				r.before = map[string]any{"session_id": "sess-0", "form_data": map[string]any{}}
			}
		}
		fpWrite(t, conn.Conn(), r, &tally)
	}
	t.Logf("corpus and %d generated rows: %+v", n, tally)
	require.Greater(t, tally.fast, n/6, "the fast path must decide many rows")
	require.Greater(t, tally.refused, n/5, "the rows must exercise refusals")
	require.Greater(t, tally.slowAccepted, n/20, "the rows must exercise what the fast path leaves to the full checks")
	require.Less(t, tally.skipped, n/10)
}
