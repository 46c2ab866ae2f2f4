// Package webhook is the Supabase database-webhook input: POST /webhooks/supabase.
//
// A delivery is a notice, never the truth: Supabase sends each row change at most
// once, unsigned, so its payload is checked for shape and otherwise ignored. An
// authenticated, well-formed delivery makes the sidecar catch up now on the change
// records pending in the database (sidecar.changes), which hold what must happen; a
// forged, replayed, reordered or stale one can at most make that catch-up come
// sooner. The answer is 200 once a catch-up that started after the delivery arrived
// has committed (so everything the delivery announced is done), or 202 when that
// takes longer than the handler waits.
package webhook

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/httpapi"
)

// maxBody is the largest payload accepted. A talent row is bounded by its check
// constraints well below this.
const maxBody = 1 << 20

// CatchUp is what a notice sets off: a pass over the pending change records. The
// returned channel is closed once a pass that started after the call has
// committed.
type CatchUp interface {
	Now() <-chan struct{}
}

// Handler serves POST /webhooks/supabase.
type Handler struct {
	secrets [][]byte // each "Bearer <secret>"; several during a rotation
	catchUp CatchUp
	wait    time.Duration
	log     *slog.Logger
}

// New builds the handler. secret is one secret or a comma-separated list (every
// entry is accepted, so a rotation can overlap old and new). wait bounds how long a
// delivery waits for its catch-up before it is answered 202.
func New(secret string, catchUp CatchUp, wait time.Duration, log *slog.Logger) *Handler {
	var secrets [][]byte
	for _, s := range strings.Split(secret, ",") {
		if s = strings.TrimSpace(s); s != "" {
			secrets = append(secrets, []byte("Bearer "+s))
		}
	}
	return &Handler{secrets: secrets, catchUp: catchUp, wait: wait, log: log.With("component", "webhook")}
}

// Mount registers the route.
func (h *Handler) Mount(app *fiber.App) {
	app.Post("/webhooks/supabase", h.serve)
}

// payload is Supabase's database-webhook body. Fields are raw so each can be
// checked for its shape with a message naming it.
type payload struct {
	Type      *string         `json:"type"`
	Table     *string         `json:"table"`
	Schema    *string         `json:"schema"`
	Record    json.RawMessage `json:"record"`
	OldRecord json.RawMessage `json:"old_record"`
}

func bad(format string, a ...any) error {
	return httpapi.NewError(fiber.StatusBadRequest, "invalid_payload", format, a...)
}

func (h *Handler) serve(c *fiber.Ctx) error {
	got := []byte(c.Get(fiber.HeaderAuthorization))
	// Compare against every accepted secret, without stopping early, so timing does
	// not reveal which entry (if any) matched.
	ok := 0
	for _, want := range h.secrets {
		ok |= subtle.ConstantTimeCompare(got, want)
	}
	if ok != 1 {
		return httpapi.NewError(fiber.StatusUnauthorized, "unauthorized", "missing or wrong bearer secret")
	}
	body := c.Body()
	if len(body) > maxBody {
		return httpapi.NewError(fiber.StatusRequestEntityTooLarge, "payload_too_large",
			"body is %d bytes; the limit is %d", len(body), maxBody)
	}
	if err := parse(body); err != nil {
		return err
	}
	done := h.catchUp.Now()
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case <-done:
		return c.JSON(fiber.Map{"status": "caught_up"})
	case <-t.C:
	case <-c.UserContext().Done():
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "catching_up"})
}

// parse checks that the payload has the shape of a Supabase database webhook for a
// table the sidecar watches. Shape errors are 400; a well-formed delivery for a
// table or type this sidecar does not watch is 422. Nothing in it is used beyond
// that: the change records in the database say what happened.
func parse(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return bad("body is empty; expected a JSON object {type, table, schema, record, old_record}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var p payload
	if err := dec.Decode(&p); err != nil {
		return bad("body is not a JSON object of the webhook shape: %v", err)
	}
	if dec.More() {
		return bad("body has data after the JSON object")
	}
	if p.Type == nil || *p.Type == "" {
		return bad("type is required (INSERT, UPDATE or DELETE)")
	}
	if p.Table == nil || *p.Table == "" {
		return bad("table is required")
	}
	if p.Schema == nil || *p.Schema == "" {
		return bad("schema is required")
	}
	op := change.Op(*p.Type)
	switch op {
	case change.Insert, change.Update, change.Delete:
	default:
		return httpapi.NewError(fiber.StatusUnprocessableEntity, "unsupported_type",
			"type %q is not handled; expected INSERT, UPDATE or DELETE", *p.Type)
	}
	if _, ok := change.Lookup(*p.Schema, *p.Table); !ok {
		return httpapi.NewError(fiber.StatusUnprocessableEntity, "unsupported_table",
			"table %s.%s is not watched by this sidecar", *p.Schema, *p.Table)
	}
	rec, err := present("record", p.Record)
	if err != nil {
		return err
	}
	old, err := present("old_record", p.OldRecord)
	if err != nil {
		return err
	}
	switch op {
	case change.Insert:
		if !rec {
			return bad("record is required for INSERT")
		}
	case change.Update:
		if !rec || !old {
			return bad("record and old_record are required for UPDATE")
		}
	case change.Delete:
		if !old {
			return bad("old_record is required for DELETE")
		}
	}
	return nil
}

// present checks a record field's shape: absent or null is false, an object is
// true, anything else is a 400 naming the field. The payload's JSON is already
// known to be well formed, and nothing in a record is used, so it is not decoded.
func present(name string, raw json.RawMessage) (bool, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return false, nil
	}
	if t[0] != '{' {
		return false, bad("%s must be an object or null", name)
	}
	return true, nil
}
