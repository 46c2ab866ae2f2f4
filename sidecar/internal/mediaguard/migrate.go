package mediaguard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	storage "github.com/supabase-community/storage-go"
)

// Uploader puts one object into Storage. Implementations must be safe for
// concurrent use; StorageUploader is.
type Uploader interface {
	Upload(ctx context.Context, bucket, path, contentType string, data []byte) error
}

// StorageUploader uploads through the Storage API with storage-go. storage-go keeps
// per-call options in a client-wide header map, so a client is made per upload.
type StorageUploader struct {
	SupabaseURL    string // https://<ref>.supabase.co or http://127.0.0.1:54321
	ServiceRoleKey string
}

// Upload stores data at bucket/path, overwriting (x-upsert) so that a migration
// re-run after a crash between upload and commit reuses the same object.
func (u StorageUploader) Upload(_ context.Context, bucket, path, contentType string, data []byte) error {
	c := storage.NewClient(strings.TrimRight(u.SupabaseURL, "/")+"/storage/v1", u.ServiceRoleKey,
		map[string]string{"apikey": u.ServiceRoleKey})
	upsert := true
	if _, err := c.UploadFile(bucket, path, bytes.NewReader(data), storage.FileOptions{ContentType: &contentType, Upsert: &upsert}); err != nil {
		return fmt.Errorf("uploading %s/%s: %w", bucket, path, err)
	}
	return nil
}

// Begin is what Migrate needs of a database handle.
type Beginner interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrator moves inline media of stored rows to Storage: each blob is decoded,
// uploaded to its bucket under <user id>/<id>.<ext> and replaced by the object URL,
// one row per transaction (the row locked while it is rewritten). A row with nothing
// left to move is skipped, so the migration resumes where it stopped and running it
// twice changes nothing the second time. Without Apply it only reports.
type Migrator struct {
	DB       Beginner
	Uploader Uploader
	Apply    bool
	Log      *slog.Logger
	Out      io.Writer // one line per action
}

// MigrateReport counts what happened.
type MigrateReport struct {
	Rows, Moved, Skipped int
}

// Run migrates every offending row.
func (m *Migrator) Run(ctx context.Context) (MigrateReport, error) {
	var rep MigrateReport
	base, err := StorageBaseURL(ctx, m.DB)
	if err != nil {
		return rep, err
	}
	g := New(base)
	type rowRef struct{ table, id string }
	var todo []rowRef
	seen := map[rowRef]bool{}
	if err := Scan(ctx, m.DB, g, func(f Finding) error {
		r := rowRef{f.Table, f.RowID}
		if !seen[r] {
			seen[r] = true
			todo = append(todo, r)
		}
		return nil
	}); err != nil {
		return rep, err
	}
	for _, r := range todo {
		moved, skipped, err := m.row(ctx, g, r.table, r.id)
		if err != nil {
			return rep, fmt.Errorf("migrating %s row %s: %w", r.table, r.id, err)
		}
		rep.Rows++
		rep.Moved += moved
		rep.Skipped += skipped
	}
	return rep, nil
}

func (m *Migrator) printf(format string, a ...any) {
	if m.Out != nil {
		fmt.Fprintf(m.Out, format+"\n", a...)
	}
}

func (m *Migrator) row(ctx context.Context, g *Guard, table, id string) (moved, skipped int, err error) {
	tx, err := m.DB.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	var uid string
	var raw []byte
	err = tx.QueryRow(ctx, fmt.Sprintf(`select user_id::text, to_jsonb(t) from public.%s t where id = $1 for update`,
		pgx.Identifier{table}.Sanitize()), id).Scan(&uid, &raw)
	if err == pgx.ErrNoRows {
		return 0, 0, nil // deleted meanwhile
	}
	if err != nil {
		return 0, 0, err
	}
	row, err := decodeRow(raw)
	if err != nil {
		return 0, 0, err
	}
	sets := []string{}
	args := []any{}
	for _, c := range guardedColumns[table] {
		if len(g.Check(table, c.name, row[c.name])) == 0 {
			continue
		}
		fx := fixer{m: m, ctx: ctx, g: g, table: table, col: c, uid: uid, rowID: id}
		nv := fx.fix(c.name, row[c.name], 0)
		moved += fx.moved
		if rest := g.Check(table, c.name, nv); len(rest) > 0 {
			for _, v := range rest {
				m.printf("skip   %s %s %s: %s (%s)", table, id, v.Path, v.Reason, fx.why[v.Path])
			}
			skipped += len(rest)
			continue // a column still offending would be refused by the trigger: leave it
		}
		args = append(args, columnArg(c.name, nv))
		sets = append(sets, fmt.Sprintf("%s = $%d", pgx.Identifier{c.name}.Sanitize(), len(args)))
	}
	if !m.Apply || len(sets) == 0 {
		return moved, skipped, nil
	}
	args = append(args, id)
	if _, err := tx.Exec(ctx, fmt.Sprintf(`update public.%s set %s where id = $%d`,
		pgx.Identifier{table}.Sanitize(), strings.Join(sets, ", "), len(args)), args...); err != nil {
		return 0, 0, fmt.Errorf("updating: %w", err)
	}
	return moved, skipped, tx.Commit(ctx)
}

func columnArg(col string, v any) any {
	switch col {
	case "personality_traits", "predefined_answers", "form_data":
		b, _ := json.Marshal(v)
		return string(b)
	case "headshot_urls", "tone_categories":
		var out []string
		if a, ok := v.([]any); ok {
			for _, e := range a {
				s, _ := e.(string)
				out = append(out, s)
			}
		}
		if out == nil {
			out = []string{}
		}
		return out
	}
	return v
}

type fixer struct {
	m          *Migrator
	ctx        context.Context
	g          *Guard
	table, uid string
	rowID      string
	col        column
	moved      int
	why        map[string]string
}

func (f *fixer) fix(path string, v any, depth int) any {
	switch x := v.(type) {
	case string:
		return f.fixString(path, x, depth)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = f.fix(fmt.Sprintf("%s[%d]", path, i), e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = f.fix(path+pathKey(k), e, depth+1)
		}
		return out
	}
	return v
}

func (f *fixer) skip(path, why string) {
	if f.why == nil {
		f.why = map[string]string{}
	}
	f.why[path] = why
}

// fixString replaces each blob in s with the URL of its uploaded copy. A media URL
// column holds only the URL afterwards.
func (f *fixer) fixString(path, s string, depth int) string {
	for i := 0; i < 50; i++ {
		if _, ok := inspectString(s); ok && (f.col.kind != mediaURL || depth > 1) {
			return s
		}
		if f.col.kind == mediaURL && depth <= 1 {
			if _, ok := inspectURL(s, f.col.bucket, f.g.base, f.g.paths[f.col.bucket]); ok {
				return s
			}
		}
		b, ok := extractBlob(s)
		if !ok {
			f.skip(path, "no base64 payload that can be decoded")
			return s
		}
		bucket := f.col.bucket
		if bucket == "" {
			bucket = bucketFor(b.typ)
		}
		typ := adjustType(b.typ, bucket)
		ext, allowed := bucketTypes[bucket][typ]
		if !allowed {
			f.skip(path, fmt.Sprintf("type %q is not accepted by a media bucket", typ))
			return s
		}
		sum := sha256.Sum256(b.data)
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("%s/%s/%s/%x", f.table, f.rowID, path, sum)))
		obj := f.uid + "/" + id.String() + "." + ext
		url := f.g.base + "/storage/v1/object/" + bucket + "/" + obj
		if f.m.Apply {
			if err := f.m.Uploader.Upload(f.ctx, bucket, obj, typ, b.data); err != nil {
				f.skip(path, err.Error())
				f.m.Log.Error("uploading media", "table", f.table, "row_id", f.rowID, "path", path, "err", err)
				return s
			}
			f.m.printf("moved  %s %s %s: %d bytes %s -> %s", f.table, f.rowID, path, len(b.data), typ, url)
		} else {
			f.m.printf("would  %s %s %s: %d bytes %s -> %s", f.table, f.rowID, path, len(b.data), typ, url)
		}
		f.moved++
		if f.col.kind == mediaURL && depth <= 1 {
			return url
		}
		s = b.text[:b.start] + url + b.text[b.end:]
	}
	return s
}

type blob struct {
	text       string // the string the offsets refer to (percent-decoded when needed)
	start, end int
	data       []byte
	typ        string
}

var dataURIBase64 = regexp.MustCompile(`(?i)d[ \t\n\r\f\v]*a[ \t\n\r\f\v]*t[ \t\n\r\f\v]*a[ \t\n\r\f\v]*:[^,]*?;[ \t\n\r\f\v]*base64[ \t\n\r\f\v]*,[ \t\n\r\f\v]*([A-Za-z0-9+/=_-]+(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/=_-]+)*)`)

// extractBlob locates the first base64 payload in s (a data: URI or a bare run) and
// decodes it.
func extractBlob(s string) (blob, bool) {
	if strings.IndexByte(s, '%') >= 0 {
		s = pctDecode(pctDecode(s))
	}
	if m := dataURIBase64.FindStringSubmatchIndex(s); m != nil {
		payload := strings.TrimRight(s[m[2]:m[3]], " \t\n\r\f\v")
		end := m[2] + len(payload)
		if data, ok := decodeBase64(payload); ok {
			typ := ""
			if t := dataType.FindStringSubmatch(s[m[0]:end]); t != nil {
				typ = strings.ToLower(stripWS(t[1]))
			}
			if typ == "" || typ == "application/octet-stream" {
				typ = sniff(data)
			}
			return blob{text: s, start: m[0], end: end, data: data, typ: typ}, true
		}
	}
	for _, re := range []*regexp.Regexp{runStd, runURL} {
		for _, ix := range re.FindAllStringIndex(s, -1) {
			run := s[ix[0]:ix[1]]
			c := compactRun(run)
			if len(c) < MinRun {
				continue
			}
			if magicType(c) == "" && len(c) < LongRun {
				continue
			}
			if data, ok := decodeBase64(run); ok {
				return blob{text: s, start: ix[0], end: ix[1], data: data, typ: sniff(data)}, true
			}
		}
	}
	return blob{}, false
}

func decodeBase64(s string) ([]byte, bool) {
	c := stripWS(s)
	c = strings.TrimRight(c, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(c, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(c)
	return b, err == nil && len(b) > 0
}

// sniff names the content type of decoded bytes.
func sniff(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		switch brand := string(b[8:12]); {
		case brand == "qt  ":
			return "video/quicktime"
		case strings.HasPrefix(brand, "M4A"):
			return "audio/mp4"
		case brand == "heic" || brand == "heix" || brand == "mif1":
			return "image/heic"
		}
		return "video/mp4"
	case len(b) >= 3 && string(b[:3]) == "ID3":
		return "audio/mpeg"
	case len(b) >= 4 && string(b[:4]) == "OggS":
		return "audio/ogg"
	case len(b) >= 4 && bytes.Equal(b[:4], []byte{0x1a, 0x45, 0xdf, 0xa3}):
		return "video/webm"
	}
	t := http.DetectContentType(b)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return t
}

func bucketFor(typ string) string {
	switch {
	case strings.HasPrefix(typ, "image/"):
		return "headshots"
	case strings.HasPrefix(typ, "video/"):
		return "video-samples"
	case strings.HasPrefix(typ, "audio/"):
		return "interview-audio"
	}
	return ""
}

func adjustType(typ, bucket string) string {
	if typ == "audio/wave" {
		typ = "audio/wav"
	}
	if bucket == "interview-audio" {
		switch typ {
		case "video/webm":
			return "audio/webm"
		case "video/mp4":
			return "audio/mp4"
		}
	}
	return typ
}

// bucketTypes mirrors the buckets' allowed MIME types (migrations/20261121000900_storage.sql)
// with the extension each gets.
var bucketTypes = map[string]map[string]string{
	"headshots":     {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"},
	"video-samples": {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"},
	"interview-audio": {"audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/wav": "wav", "audio/x-wav": "wav",
		"audio/webm": "webm", "audio/ogg": "ogg", "audio/aac": "aac"},
}
