package mediaguard

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
)

// fakeStorage is a loopback stand-in for the Supabase Storage API's upload endpoint
// (POST /storage/v1/object/<bucket>/<path>). It checks what the real service checks
// for us: the service role key in Authorization and apikey, a known bucket, a MIME
// type the bucket allows, and our '<user id>/<uuid>.<ext>' layout. fail makes every
// upload answer 500.
type fakeStorage struct {
	t    *testing.T
	key  string
	mu   sync.Mutex
	objs map[string]fakeObject // "bucket/path"
	fail bool
	hits int
}

type fakeObject struct {
	contentType string
	data        []byte
}

var objectPath = regexp.MustCompile(`^/storage/v1/object/([a-z-]+)/([0-9a-f-]{36})/([0-9a-f-]{36})\.([a-z0-9]+)$`)

func (f *fakeStorage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits++
	fail := func(code int, msg string) {
		f.t.Logf("fake storage: %d %s (%s %s)", code, msg, r.Method, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"statusCode":"%d","error":%q,"message":%q}`, code, http.StatusText(code), msg)
	}
	if r.Header.Get("Authorization") != "Bearer "+f.key || r.Header.Get("apikey") != f.key {
		fail(http.StatusUnauthorized, "invalid or missing service role key")
		return
	}
	m := objectPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		fail(http.StatusBadRequest, "unexpected request")
		return
	}
	ct := r.Header.Get("Content-Type")
	ext, ok := bucketTypes[m[1]][ct]
	if !ok {
		fail(http.StatusBadRequest, fmt.Sprintf("mime type %s is not supported by bucket %s", ct, m[1]))
		return
	}
	if ext != m[4] {
		fail(http.StatusBadRequest, "extension does not match content type")
		return
	}
	if f.fail {
		fail(http.StatusInternalServerError, "storage is down")
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.objs[m[1]+"/"+m[2]+"/"+m[3]+"."+m[4]] = fakeObject{contentType: ct, data: body}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"Key":%q}`, strings.TrimPrefix(r.URL.Path, "/storage/v1/object/"))
}

func TestMigrateMovesInlineMediaToStorage(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	uid := newUser(t, db, "legacy@example.com")
	base := defaultStorageBaseURL

	png, _ := base64.StdEncoding.DecodeString(pngB64)
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, bytes.Repeat([]byte{7, 99, 200}, 40)...)
	mp4 := append([]byte{0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}, bytes.Repeat([]byte{1, 2, 3}, 40)...)
	ogg := append([]byte("OggS\x00\x02"), bytes.Repeat([]byte{9, 8, 7}, 40)...)
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01")
	b64 := base64.StdEncoding.EncodeToString
	goodHeadshot := base + "/storage/v1/object/public/headshots/" + uid + "/ok.jpg"

	// Legacy rows written before the guard existed: the trigger is bypassed.
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `set session_replication_role = replica`)
	require.NoError(t, err)
	var pid, oid string
	require.NoError(t, conn.QueryRow(ctx, `insert into public.talent_profiles
		(user_id, name, freeform_text, headshot_urls, video_sample_url, predefined_answers, custom_tone)
		values ($1, 'Legacy', $2, $3, $4, $5, $6) returning id::text`,
		uid, "Hello, see data:image/png;base64,"+b64(png)+" thanks",
		[]string{goodHeadshot, b64(jpeg)},
		"data:video/mp4;base64,"+b64(mp4),
		`{"voice": "`+b64(ogg)+`"}`,
		"data:image/gif;base64,"+b64(gif)).Scan(&pid))
	require.NoError(t, conn.QueryRow(ctx, `insert into public.onboarding_progress (user_id, form_data)
		values ($1, $2) returning id::text`, uid, `{"steps": [{"photo": "data:image/png;base64,`+b64(png)+`"}]}`).Scan(&oid))
	_, err = conn.Exec(ctx, `reset session_replication_role`)
	require.NoError(t, err)
	conn.Release()

	scan := func() []Finding {
		var out []Finding
		require.NoError(t, Scan(ctx, db.Pool, New(base), func(f Finding) error { out = append(out, f); return nil }))
		return out
	}
	before := scan()
	require.Len(t, before, 6)
	for _, f := range before {
		require.Equal(t, uid, f.UserID)
	}

	fake := &fakeStorage{t: t, key: "service-role-key-for-tests", objs: map[string]fakeObject{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var out bytes.Buffer
	m := &Migrator{DB: db.Pool, Uploader: StorageUploader{SupabaseURL: srv.URL, ServiceRoleKey: fake.key},
		Log: testlog.New(t), Out: &out}

	// Dry run: nothing uploaded, nothing changed.
	rep, err := m.Run(ctx)
	require.NoError(t, err)
	t.Log(out.String())
	require.Equal(t, MigrateReport{Rows: 2, Moved: 5, Skipped: 1}, rep)
	require.Zero(t, fake.hits)
	require.Len(t, scan(), 6)
	t.Log(out.String())

	// Storage failing: every row stays as it was.
	m.Apply = true
	fake.fail = true
	rep, err = m.Run(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, rep.Moved)
	require.Len(t, scan(), 6)

	// Storage up: blobs become objects, values become their URLs.
	fake.fail = false
	rep, err = m.Run(ctx)
	require.NoError(t, err)
	require.Equal(t, MigrateReport{Rows: 2, Moved: 5, Skipped: 1}, rep)
	left := scan()
	require.Len(t, left, 1, "only the GIF (no bucket takes image/gif) is left")
	require.Equal(t, "custom_tone", left[0].Column)

	require.Len(t, fake.objs, 5)
	types := map[string]int{}
	for k, o := range fake.objs {
		types[strings.SplitN(k, "/", 2)[0]+" "+o.contentType]++
		require.Contains(t, k, "/"+uid+"/")
	}
	require.Equal(t, map[string]int{"headshots image/png": 2, "headshots image/jpeg": 1,
		"video-samples video/mp4": 1, "interview-audio audio/ogg": 1}, types)

	var text, video string
	var heads []string
	var answers, form []byte
	require.NoError(t, db.Pool.QueryRow(ctx, `select freeform_text, headshot_urls, video_sample_url, predefined_answers
		from public.talent_profiles where id = $1`, pid).Scan(&text, &heads, &video, &answers))
	require.NoError(t, db.Pool.QueryRow(ctx, `select form_data from public.onboarding_progress where id = $1`, oid).Scan(&form))
	urlRE := func(bucket, ext string) string {
		return regexp.QuoteMeta(base+"/storage/v1/object/"+bucket+"/"+uid+"/") + `[0-9a-f-]{36}\.` + ext
	}
	require.Regexp(t, "^Hello, see "+urlRE("headshots", "png")+" thanks$", text)
	require.Equal(t, goodHeadshot, heads[0])
	require.Regexp(t, "^"+urlRE("headshots", "jpg")+"$", heads[1])
	require.Regexp(t, "^"+urlRE("video-samples", "mp4")+"$", video)
	var a map[string]string
	require.NoError(t, json.Unmarshal(answers, &a))
	require.Regexp(t, "^"+urlRE("interview-audio", "ogg")+"$", a["voice"])
	require.Regexp(t, urlRE("headshots", "png"), string(form))
	obj := fake.objs[strings.TrimPrefix(heads[1], base+"/storage/v1/object/")]
	require.Equal(t, jpeg, obj.data, "the object holds the decoded bytes")

	// Twice is harmless: nothing left to move, nothing uploaded.
	hits := fake.hits
	rep, err = m.Run(ctx)
	require.NoError(t, err)
	require.Equal(t, MigrateReport{Rows: 1, Moved: 0, Skipped: 1}, rep)
	require.Equal(t, hits, fake.hits)
}

func TestStorageUploaderRejectsWrongKey(t *testing.T) {
	t.Parallel()
	fake := &fakeStorage{t: t, key: "right", objs: map[string]fakeObject{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	err := StorageUploader{SupabaseURL: srv.URL, ServiceRoleKey: "wrong"}.Upload(context.Background(),
		"headshots", "00000000-0000-4000-b000-000000000001/00000000-0000-4000-b000-000000000002.png", "image/png", []byte("x"))
	require.ErrorContains(t, err, "invalid or missing service role key")
	require.Empty(t, fake.objs)
}
