package mediaguard

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// benchRow is a talent_profiles row as the wizard writes it.
type benchRow struct {
	name, email, phone, location, video, audio, customTone, freeform, session string
	headshots, tones                                                          []string
	traits, answers                                                           string
}

const benchProse = "I have narrated audiobooks, e-learning courses and documentaries for nine years; clients describe my voice as warm, calm and clear. "

func typicalRow(i int) benchRow {
	uid := fmt.Sprintf("00000000-0000-4000-b000-%012d", i)
	base := defaultStorageBaseURL + "/storage/v1/object/"
	return benchRow{
		name: fmt.Sprintf("Talent %d Okafor", i), email: fmt.Sprintf("talent%d@example.com", i),
		phone: "+44 20 7946 0958", location: "Lagos, Nigeria",
		headshots: []string{base + "headshots/" + uid + "/1.jpg", base + "headshots/" + uid + "/2.jpg", base + "headshots/" + uid + "/3.jpg"},
		video:     base + "video-samples/" + uid + "/sample.mp4", audio: base + "interview-audio/" + uid + "/intro.m4a",
		tones:      []string{"warm", "conversational", "authoritative"},
		traits:     `{"extroversion": 80, "formality": 55, "energy": 40, "professionalism": 90}`,
		customTone: "Friendly narrator with a hint of mischief",
		answers: `{"experience": "Nine years, mostly audiobooks and corporate e-learning.", "equipment": "Shure SM7B, Focusrite Scarlett 2i2, treated booth.",
			"availability": "Weekdays 9:00-17:00 CET, weekends by arrangement.", "languages": "English (native), French (fluent), Yoruba.", "rate": "Per finished hour, negotiable."}`,
		freeform: strings.Repeat(benchProse, 4) + fmt.Sprint(i),
		session:  fmt.Sprintf("sess-%d", i),
	}
}

var benchShapes = []struct {
	name string
	row  func(i int) benchRow
}{
	{"typical", typicalRow},
	{"prose10KB", func(i int) benchRow {
		r := typicalRow(i)
		r.freeform = strings.Repeat(benchProse, 10240/len(benchProse)+1)[:10240] + fmt.Sprint(i)
		return r
	}},
	// The table caps headshot_urls at 10 and tone_categories at 20, so the 50 extra
	// strings live in predefined_answers (an object of strings), beside full text arrays.
	{"arrays50", func(i int) benchRow {
		r := typicalRow(i)
		base := defaultStorageBaseURL + "/storage/v1/object/headshots/" + fmt.Sprintf("00000000-0000-4000-b000-%012d", i)
		r.headshots = nil
		for j := 0; j < 10; j++ {
			r.headshots = append(r.headshots, fmt.Sprintf("%s/%d.jpg", base, j))
		}
		r.tones = nil
		for j := 0; j < 20; j++ {
			r.tones = append(r.tones, fmt.Sprintf("tone-%d", j))
		}
		var items []string
		for j := 0; j < 50; j++ {
			items = append(items, fmt.Sprintf(`"q%d": "Answer number %d about my experience in studio work"`, j, j))
		}
		r.answers = `{` + strings.Join(items, ", ") + `}`
		return r
	}},
}

const insertSQL = `insert into public.talent_profiles (user_id, name, email, phone, location, headshot_urls,
	video_sample_url, freeform_audio_url, tone_categories, personality_traits, custom_tone, predefined_answers,
	freeform_text, session_id) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12::jsonb, $13, $14)`

// updateSQL rewrites what a talent edits between wizard steps (every guarded kind of
// column), so the guard has every changed column to check.
const updateSQL = `update public.talent_profiles set headshot_urls = $2, tone_categories = $3, custom_tone = $4,
	predefined_answers = $5::jsonb, freeform_text = $6 where id = $1`

// BenchmarkGuardWrites measures write throughput of talent_profiles with the guard
// and without it in the same run: two databases cloned from the same template, one
// with the guard's triggers dropped, each written on one connection (as PostgREST's
// pooled connections would write), in batches of 200 that alternate between the two.
// (Switching the trigger off and on in one database, as this benchmark did before,
// invalidates that connection's cached plans at every switch, and the guarded
// batches' figures swung by half from run to run.) guarded/unguarded is the ratio of
// write rates (goal >= 0.95 for typical rows). Each shape and operation is measured
// two ways:
//   - "<op>": one autocommit statement as the postgres user (no RLS, the state
//     machine's service path): the least work around the guard, the harshest ratio;
//   - "<op>-request": the request PostgREST makes for the talent (begin; role
//     authenticated and the talent's JWT claims; the statement; commit), the shape
//     the wizard's writes really have.
//
// Run:
//
//	go test ./sidecar/internal/mediaguard -run '^$' -bench GuardWrites -benchtime 2000x
func BenchmarkGuardWrites(b *testing.B) {
	ctx := context.Background()
	type side struct {
		db   *testdb.DB
		conn *pgx.Conn
		cpu  func() time.Duration
	}
	open := func(guarded bool) side {
		db := testdb.New(b)
		if !guarded {
			// The triggers that run the guard function on talent_profiles, found by
			// their function, so the benchmark drops the guard however it is triggered.
			_, err := db.Pool.Exec(ctx, `do $$
				declare t text;
				begin
				  for t in select tgname from pg_trigger
				            where tgrelid = 'public.talent_profiles'::regclass
				              and tgfoid = 'private.talent_profiles_media_guard'::regproc loop
				    execute format('drop trigger %I on public.talent_profiles', t);
				  end loop;
				  if not found then raise exception 'no guard trigger'; end if;
				end $$`)
			if err != nil {
				b.Fatal(err)
			}
		}
		c, err := db.Pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Release)
		cpu, err := testdb.BackendCPU(ctx, c.Conn())
		if err != nil {
			b.Fatal(err)
		}
		return side{db, c.Conn(), cpu}
	}
	sides := [2]side{open(false), open(true)}
	seq := 0
	for _, shape := range benchShapes {
		for _, op := range []string{"insert", "update", "insert-request", "update-request"} {
			b.Run(shape.name+"/"+op, func(b *testing.B) {
				var elapsed, cpus [2]time.Duration
				const batch = 200
				insert := strings.HasPrefix(op, "insert")
				asTalent := strings.HasSuffix(op, "-request")
				write := func(conn *pgx.Conn, t benchTarget) {
					seq++
					r := shape.row(seq)
					email := t.user + "@bench.example.com"
					sql, args := updateSQL, []any{t.profile, r.headshots, r.tones, r.customTone + fmt.Sprint(seq), r.answers, r.freeform + fmt.Sprint(seq)}
					if insert {
						sql, args = insertSQL, []any{t.user, r.name, email, r.phone, r.location, r.headshots,
							r.video, r.audio, r.tones, r.traits, r.customTone, r.answers, r.freeform, r.session}
					}
					var err error
					if asTalent {
						bt, _ := testdb.Request("authenticated", testdb.Claims(t.user, "authenticated", email), sql, args...)
						err = conn.SendBatch(ctx, bt).Close()
					} else {
						_, err = conn.Exec(ctx, sql, args...)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				for done := 0; done < b.N; {
					n := min(batch, b.N-done)
					for i := range sides {
						s := sides[i]
						b.StopTimer()
						targets := benchPrepare(b, s.db.Pool, insert, shape.row, n+1)
						write(s.conn, targets[n]) // warm-up, untimed
						b.StartTimer()
						start, cpu0 := time.Now(), s.cpu()
						for _, t := range targets[:n] {
							write(s.conn, t)
						}
						elapsed[i] += time.Since(start)
						cpus[i] += s.cpu() - cpu0
					}
					done += n
				}
				unguarded, guarded := elapsed[0], elapsed[1]
				b.ReportMetric(float64(guarded.Nanoseconds())/float64(b.N), "guarded-ns/write")
				b.ReportMetric(float64(unguarded.Nanoseconds())/float64(b.N), "unguarded-ns/write")
				b.ReportMetric(float64(unguarded)/float64(guarded), "guarded/unguarded")
				if cpus[1] > 0 {
					b.ReportMetric(float64(cpus[1].Nanoseconds())/float64(b.N), "guarded-cpu-ns/write")
					b.ReportMetric(float64(cpus[0].Nanoseconds())/float64(b.N), "unguarded-cpu-ns/write")
					b.ReportMetric(float64(cpus[0])/float64(cpus[1]), "cpu-guarded/unguarded")
				}
			})
		}
	}
}

// benchTarget is what one write needs: the auth user (the talent), and for an
// update the profile they own.
type benchTarget struct{ user, profile string }

// benchPrepare returns n auth users to insert profiles for, or n users with a draft
// profile each to update.
func benchPrepare(b *testing.B, pool *pgxpool.Pool, insert bool, row func(int) benchRow, n int) []benchTarget {
	ctx := context.Background()
	rows, err := pool.Query(ctx, `insert into auth.users (id, email) select gen_random_uuid(), gen_random_uuid() || '@bench.example.com'
		from generate_series(1, $1) returning id::text`, n)
	if err != nil {
		b.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	out := make([]benchTarget, n)
	for i, u := range users {
		out[i].user = u
		if insert {
			continue
		}
		r := row(i)
		if err := pool.QueryRow(ctx, insertSQL+` returning id::text`, u, r.name, nil, r.phone, r.location, r.headshots,
			r.video, r.audio, r.tones, r.traits, r.customTone, r.answers, r.freeform, r.session).Scan(&out[i].profile); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkCheck is the Go rule on one typical row, a 10 KB prose value and a 64 KB blob.
func BenchmarkCheck(b *testing.B) {
	g := New("")
	r := typicalRow(1)
	row := map[string]any{"name": r.name, "email": r.email, "phone": r.phone, "location": r.location,
		"headshot_urls": []any{r.headshots[0], r.headshots[1], r.headshots[2]}, "video_sample_url": r.video,
		"freeform_audio_url": r.audio, "custom_tone": r.customTone, "freeform_text": r.freeform,
		"predefined_answers": map[string]any{"experience": "Nine years, mostly audiobooks.", "equipment": "Shure SM7B"}}
	prose := strings.Repeat(benchProse, 10240/len(benchProse)+1)
	blob := strings.Repeat(pngB64, 65536/len(pngB64))
	b.Run("typical-row", func(b *testing.B) {
		for b.Loop() {
			if len(g.CheckRow("talent_profiles", row)) != 0 {
				b.Fatal("typical row refused")
			}
		}
	})
	b.Run("prose10KB", func(b *testing.B) {
		b.SetBytes(int64(len(prose)))
		for b.Loop() {
			g.Check("talent_profiles", "freeform_text", prose)
		}
	})
	b.Run("blob64KB", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			g.Check("talent_profiles", "freeform_text", blob)
		}
	})
}
