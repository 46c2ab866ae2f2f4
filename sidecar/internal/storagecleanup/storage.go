package storagecleanup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	storage "github.com/supabase-community/storage-go"
)

// Storage removes objects through the Storage API with storage-go.
//
// storage-go keeps its headers in a client-wide map that options write to, so a
// client is built per call, never shared between goroutines
// (../shared/SUPABASE-FACTS.md). The requests are made with the client's own
// NewRequest and Do, in the shapes ListFiles and RemoveFile send (its request and
// answer types), rather than through those two methods, for two reasons:
//
//   - ListFiles and RemoveFile drop the HTTP response, and their error,
//     storage.StorageError, reads its status from a JSON "status" field Storage never
//     sends (Storage sends "statusCode", a string, and answers HTTP 400 for most of
//     its own errors). Through Do the status is there, and a 503 or 429 (retry) can
//     be told from a refused request (do not repeat it blindly).
//   - They take no context, so a hanging Storage would hold a job forever; a request
//     from NewRequest takes one.
type Storage struct {
	URL     string // the project URL, e.g. https://<ref>.supabase.co
	Key     string // the service role key: it bypasses Storage's RLS, as the sidecar must
	Timeout time.Duration
}

// RequestError is a Storage answer other than success.
type RequestError struct {
	Op, Bucket string
	Status     int    // the HTTP status
	Message    string // Storage's message, when its body had one
}

func (e *RequestError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("storage %s %s: HTTP %d: %s", e.Op, e.Bucket, e.Status, msg)
}

// Temporary reports whether repeating the request later may succeed: the service
// or its gateway unavailable (5xx) or rate limiting (429). Any other refusal (400
// for a bad token, an invalid name) repeats the same way until someone fixes the
// configuration.
func (e *RequestError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// temporary classifies any error of a Storage call: a network error or a timeout is
// temporary, and so is a RequestError that says so.
func temporary(err error) bool {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Temporary()
	}
	return true
}

func (s Storage) client() *storage.Client {
	return storage.NewClient(strings.TrimRight(s.URL, "/")+"/storage/v1", s.Key, nil)
}

// do sends one request of storage-go's client and decodes its answer into out.
func (s Storage) do(ctx context.Context, method, op, bucket, url string, body, out any) error {
	c := s.client()
	req, err := c.NewRequest(method, url, body)
	if err != nil {
		return fmt.Errorf("storage %s %s: %w", op, bucket, err)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	resp, err := c.Do(req.WithContext(ctx), out)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		if resp != nil && (resp.StatusCode < 200 || resp.StatusCode >= 300) {
			re := &RequestError{Op: op, Bucket: bucket, Status: resp.StatusCode}
			var se *storage.StorageError
			if errors.As(err, &se) {
				re.Message = se.Message
			}
			return re
		}
		return fmt.Errorf("storage %s %s: %w", op, bucket, err)
	}
	return nil
}

// listPage is how many entries one list request asks for (Storage's own default).
const listPage = 100

// maxDepth bounds the walk of nested folders; the frontend writes one or two levels.
const maxDepth = 16

// Object is one object found under a folder.
type Object struct {
	Path      string // full name in the bucket
	CreatedAt time.Time
}

// List returns every object under folder (e.g. '<user id>/') in bucket, at any
// depth. Storage lists one folder level per request: sub-folders come back as
// entries without an id, and are walked in turn.
func (s Storage) List(ctx context.Context, bucket, folder string) ([]Object, error) {
	var out []Object
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("storage list %s: folders nested deeper than %d under %q", bucket, maxDepth, folder)
		}
		for offset := 0; ; offset += listPage {
			body := storage.ListFileRequestBody{Prefix: prefix, Limit: listPage, Offset: offset,
				SortByOptions: storage.SortBy{Column: "name", Order: "asc"}}
			var page []storage.FileObject
			if err := s.do(ctx, http.MethodPost, "list", bucket, s.base()+"/object/list/"+bucket, body, &page); err != nil {
				return err
			}
			for _, f := range page {
				if f.Name == "" {
					continue
				}
				if f.Id == "" { // a folder
					if err := walk(prefix+f.Name+"/", depth+1); err != nil {
						return err
					}
					continue
				}
				o := Object{Path: prefix + f.Name}
				o.CreatedAt, _ = time.Parse(time.RFC3339Nano, f.CreatedAt)
				out = append(out, o)
			}
			if len(page) < listPage {
				return nil
			}
		}
	}
	if err := walk(folder, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func (s Storage) base() string { return strings.TrimRight(s.URL, "/") + "/storage/v1" }

// removeBatch is how many names one delete request carries: Storage refuses more
// than 1000, and deletes in batches of 500 itself.
const removeBatch = 500

// Remove deletes the named objects from bucket and returns how many Storage
// deleted (names already gone are not counted). On an error, removed counts the
// batches that succeeded before it.
func (s Storage) Remove(ctx context.Context, bucket string, paths []string) (removed int, err error) {
	for i := 0; i < len(paths); i += removeBatch {
		batch := paths[i:min(len(paths), i+removeBatch)]
		var resp []storage.FileUploadResponse
		if err := s.do(ctx, http.MethodDelete, "delete", bucket, s.base()+"/object/"+bucket, map[string]any{"prefixes": batch}, &resp); err != nil {
			return removed, err
		}
		removed += len(resp)
	}
	return removed, nil
}
