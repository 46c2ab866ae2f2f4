// Package storagefake is a Supabase Storage stand-in for tests: a real HTTP server
// on loopback serving the object endpoints the sidecar calls through storage-go
// (list one folder level, delete by name), holding objects in memory. It checks each
// request as Storage does (the bearer token, the bucket name, the object names, the
// request body) and answers in Storage's shapes, and it can be told to fail. It is a
// fake, not a mock: the code under test talks HTTP to it exactly as to Storage.
//
// What Storage does, and so the fake (read from supabase/storage, src/http/routes/
// object/listObjects.ts and deleteObjects.ts, src/http/plugins/jwt.ts,
// src/http/error-handler.ts, src/internal/errors):
//
//   - POST /storage/v1/object/list/{bucket} with {prefix, limit, offset, sortBy,
//     search}: the prefix is a folder ('a' is read as 'a/'); the answer lists that
//     one level: sub-folders as entries with a null id and null metadata, objects
//     with their id and metadata, sorted by name. An unknown bucket lists nothing
//     (200 []): the listing is a query of storage.objects, which does not look the
//     bucket up.
//   - DELETE /storage/v1/object/{bucket} with {prefixes: [names]} (1 to 1000): each
//     entry is an exact object name, not a prefix; the answer is the objects deleted;
//     names that do not exist are skipped. An unknown bucket deletes nothing (200 []).
//   - A missing or wrong bearer token is refused by the JWT check with HTTP 400 and a
//     body whose statusCode says 403: Storage answers 400 for every error it raises
//     itself except 500, and carries the "real" status in the body as a string.
//   - An invalid bucket name: 400, code InvalidBucketName.
//   - Errors are JSON {statusCode, code, error, message}.
//
// The fake accepts one key, the service role key the sidecar uses; row level
// security (what another key could see) is not modelled.
package storagefake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Object is one stored object.
type Object struct {
	ID        string
	Bucket    string
	Name      string // the full path in the bucket, e.g. '<user id>/headshot.jpg'
	Size      int
	MimeType  string
	CreatedAt time.Time
}

// Server is the fake. Create with New; Close when done.
type Server struct {
	*httptest.Server
	// Key is the only token accepted as 'Authorization: Bearer <key>'.
	Key string

	mu      sync.Mutex
	buckets map[string]map[string]*Object // bucket -> name -> object
	faults  []int                         // statuses to answer the next requests with
	always  int                           // a status to answer every request with (0: none)
	counts  map[string]int                // "list", "delete", "refused", "failed" -> requests
	refused []string                      // why requests were refused (bad auth, bad bucket …)
	deleted []string                      // bucket/name of every object deleted, in order
}

// New starts a fake that accepts key and knows the given buckets (empty).
func New(key string, buckets ...string) *Server {
	s := &Server{Key: key, buckets: map[string]map[string]*Object{}, counts: map[string]int{}}
	for _, b := range buckets {
		s.buckets[b] = map[string]*Object{}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Put stores an object directly (test seeding), created now.
func (s *Server) Put(bucket, name string) {
	s.PutAt(bucket, name, time.Now())
}

// PutAt stores an object with the given creation time.
func (s *Server) PutAt(bucket, name string, created time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucket]
	if !ok {
		panic("storagefake: unknown bucket " + bucket)
	}
	b[name] = &Object{ID: newID(), Bucket: bucket, Name: name, Size: 1024, MimeType: "application/octet-stream", CreatedAt: created}
}

// Objects lists the names held in bucket, sorted.
func (s *Server) Objects(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.buckets[bucket] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Deleted lists 'bucket/name' of every object deleted, in order (an object deleted
// twice would appear twice: it cannot be, it is gone after the first).
func (s *Server) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

// FailNext makes the next requests answer with the given HTTP statuses (500, 503,
// 429 …), one per request, in order; afterwards requests are served again.
func (s *Server) FailNext(status ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, status...)
}

// FailAlways makes every request answer with status (0 serves them again).
func (s *Server) FailAlways(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always = status
}

// Count returns how many requests of a kind arrived: "list", "delete" (served),
// "failed" (answered with an injected fault), "refused" (invalid, answered with
// Storage's error).
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// Refused lists why requests were refused.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// storageError writes Storage's error shape: an HTTP status and, in the body, the
// status Storage means as a string.
func storageError(w http.ResponseWriter, httpStatus int, bodyStatus, code, errName, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(map[string]string{"statusCode": bodyStatus, "code": code, "error": errName, "message": msg})
}

func (s *Server) refuse(w http.ResponseWriter, httpStatus int, bodyStatus, code, errName, msg string) {
	s.counts["refused"]++
	s.refused = append(s.refused, msg)
	storageError(w, httpStatus, bodyStatus, code, errName, msg)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()

	// Injected faults come first: they stand for the service (or the gateway in front
	// of it) being unavailable, whatever the request.
	status := s.always
	if status == 0 && len(s.faults) > 0 {
		status, s.faults = s.faults[0], s.faults[1:]
	}
	if status != 0 {
		s.counts["failed"]++
		if status >= 500 && status != 500 {
			// A gateway's answer, not Storage's own.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":%q}`, http.StatusText(status))
			return
		}
		code := "InternalError"
		if status == http.StatusTooManyRequests {
			code = "SlowDown"
		}
		storageError(w, status, fmt.Sprint(status), code, http.StatusText(status), "injected fault")
		return
	}

	rest, ok := strings.CutPrefix(r.URL.Path, "/storage/v1/object/")
	if !ok {
		s.refuse(w, http.StatusNotFound, "404", "NotFound", "Not Found", "Route "+r.Method+":"+r.URL.Path+" not found")
		return
	}
	// Storage verifies the JWT before anything else.
	token, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !hasBearer || token == "":
		s.refuse(w, http.StatusBadRequest, "403", "AccessDenied", "Unauthorized", "Invalid Compact JWS")
		return
	case token != s.Key:
		s.refuse(w, http.StatusBadRequest, "403", "AccessDenied", "Unauthorized", "signature verification failed")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.refuse(w, http.StatusBadRequest, "415", "InvalidMimeType", "invalid_mime_type", "Invalid Content-Type header")
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "list/"):
		s.list(w, strings.TrimPrefix(rest, "list/"), body)
	case r.Method == http.MethodDelete && !strings.Contains(rest, "/"):
		s.delete(w, rest, body)
	default:
		s.refuse(w, http.StatusNotFound, "404", "NotFound", "Not Found", "Route "+r.Method+":"+r.URL.Path+" not found")
	}
}

// validBucket and validKey approximate Storage's checks: names of S3-safe
// characters, no empty path segments.
func validBucket(b string) bool {
	if b == "" || len(b) > 100 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.!*'() &$@=;:+,?", c)) {
			return false
		}
	}
	return true
}

func validKey(k string) bool {
	if k == "" || strings.HasPrefix(k, "/") || strings.Contains(k, "//") {
		return false
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f || c == '\\' || c == '{' || c == '}' || c == '^' || c == '%' || c == '`' || c == '[' || c == ']' || c == '"' || c == '<' || c == '>' || c == '~' || c == '#' || c == '|' {
			return false
		}
	}
	return true
}

type listRequest struct {
	Prefix *string `json:"prefix"`
	Limit  *int    `json:"limit"`
	Offset *int    `json:"offset"`
	SortBy *struct {
		Column string `json:"column"`
		Order  string `json:"order"`
	} `json:"sortBy"`
	Search string `json:"search"`
}

// entry is one item of a listing, in Storage's shape.
type entry struct {
	Name           string         `json:"name"`
	ID             *string        `json:"id"`
	UpdatedAt      *string        `json:"updated_at"`
	CreatedAt      *string        `json:"created_at"`
	LastAccessedAt *string        `json:"last_accessed_at"`
	Metadata       map[string]any `json:"metadata"`
}

func (s *Server) list(w http.ResponseWriter, bucket string, body []byte) {
	if !validBucket(bucket) {
		s.refuse(w, http.StatusBadRequest, "400", "InvalidBucketName", "InvalidBucketName", "Bucket name invalid")
		return
	}
	var req listRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "Body is not valid JSON")
		return
	}
	switch {
	case req.Prefix == nil:
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "body must have required property 'prefix'")
		return
	case req.Limit != nil && *req.Limit < 1:
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "body/limit must be >= 1")
		return
	case req.Offset != nil && *req.Offset < 0:
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "body/offset must be >= 0")
		return
	case req.SortBy != nil && req.SortBy.Column != "name":
		// The only order the fake keeps; Storage has others the sidecar does not use.
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "storagefake: only sortBy.column 'name' is modelled")
		return
	}
	s.counts["list"]++
	prefix := *req.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	limit, offset := 100, 0
	if req.Limit != nil {
		limit = *req.Limit
	}
	if req.Offset != nil {
		offset = *req.Offset
	}

	folders := map[string]bool{}
	var out []entry
	for name, o := range s.buckets[bucket] { // an unknown bucket holds nothing
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || !strings.HasPrefix(rest, req.Search) {
			continue
		}
		if dir, _, isFolder := strings.Cut(rest, "/"); isFolder {
			folders[dir] = true
			continue
		}
		id, at := o.ID, o.CreatedAt.UTC().Format(time.RFC3339Nano)
		out = append(out, entry{Name: rest, ID: &id, UpdatedAt: &at, CreatedAt: &at, LastAccessedAt: &at,
			Metadata: map[string]any{"size": o.Size, "mimetype": o.MimeType, "eTag": `"` + o.ID + `"`}})
	}
	for dir := range folders {
		out = append(out, entry{Name: dir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if req.SortBy != nil && req.SortBy.Order == "desc" {
		sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name })
	}
	if offset > len(out) {
		offset = len(out)
	}
	out = out[offset:min(len(out), offset+limit)]
	if out == nil {
		out = []entry{}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

// deleted is one object of a delete's answer (Storage returns the deleted rows).
type deletedObject struct {
	BucketID  string         `json:"bucket_id"`
	Name      string         `json:"name"`
	ID        string         `json:"id"`
	CreatedAt string         `json:"created_at"`
	Metadata  map[string]any `json:"metadata"`
}

func (s *Server) delete(w http.ResponseWriter, bucket string, body []byte) {
	if !validBucket(bucket) {
		s.refuse(w, http.StatusBadRequest, "400", "InvalidBucketName", "InvalidBucketName", "Bucket name invalid")
		return
	}
	var req struct {
		Prefixes *[]string `json:"prefixes"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "Body is not valid JSON")
		return
	}
	switch {
	case req.Prefixes == nil:
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "body must have required property 'prefixes'")
		return
	case len(*req.Prefixes) == 0:
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "body/prefixes must NOT have fewer than 1 items")
		return
	case len(*req.Prefixes) > 1000:
		s.refuse(w, http.StatusBadRequest, "400", "InvalidRequest", "Bad Request", "Bulk object requests are limited to 1000 objects per request.")
		return
	}
	for _, n := range *req.Prefixes {
		if !validKey(n) {
			s.refuse(w, http.StatusBadRequest, "400", "InvalidKey", "InvalidKey", "Invalid key: "+n)
			return
		}
	}
	s.counts["delete"]++
	out := []deletedObject{}
	for _, n := range *req.Prefixes {
		o, ok := s.buckets[bucket][n]
		if !ok {
			continue
		}
		delete(s.buckets[bucket], n)
		s.deleted = append(s.deleted, bucket+"/"+n)
		out = append(out, deletedObject{BucketID: bucket, Name: n, ID: o.ID, CreatedAt: o.CreatedAt.UTC().Format(time.RFC3339Nano),
			Metadata: map[string]any{"size": o.Size, "mimetype": o.MimeType}})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
