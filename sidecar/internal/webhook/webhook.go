// Package webhook is the Supabase database-webhook input: POST /webhooks/supabase.
// Supabase sends each row change at most once and does not sign it, so the receiver
// authenticates a shared bearer secret, refuses anything malformed with a precise
// message, and answers 200 only after the event's effects are committed; a repeated
// delivery finds its idempotency key taken and changes nothing.
package webhook

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/httpapi"
	"github.com/talent-onboarding/backend/sidecar/internal/pipeline"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
)

// MaxBody is the largest payload accepted. A talent row is bounded by its check
// constraints well below this.
const MaxBody = 1 << 20

// Applier applies one event and waits for its commit (the pipeline).
type Applier interface {
	Apply(ctx context.Context, ev *change.Event) pipeline.Result
}

// Handler serves POST /webhooks/supabase.
type Handler struct {
	secrets [][]byte // each "Bearer <secret>"; several during a rotation
	tables  map[string]bool
	applier Applier
	timeout time.Duration
	log     *slog.Logger
}

// New builds the handler. secret is one secret or a comma-separated list (every
// entry is accepted, so a rotation can overlap old and new). tables are the public
// tables whose events are accepted.
func New(secret string, tables []string, applier Applier, log *slog.Logger) *Handler {
	var secrets [][]byte
	for _, s := range strings.Split(secret, ",") {
		if s = strings.TrimSpace(s); s != "" {
			secrets = append(secrets, []byte("Bearer "+s))
		}
	}
	t := map[string]bool{}
	for _, name := range tables {
		t[strings.TrimPrefix(name, "public.")] = true
	}
	return &Handler{secrets: secrets, tables: t, applier: applier, timeout: 30 * time.Second,
		log: log.With("component", "webhook")}
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
	if len(body) > MaxBody {
		return httpapi.NewError(fiber.StatusRequestEntityTooLarge, "payload_too_large",
			"body is %d bytes; the limit is %d", len(body), MaxBody)
	}
	ev, err := h.parse(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), h.timeout)
	defer cancel()
	res := h.applier.Apply(ctx, ev)
	if res.Err != nil {
		return &httpapi.Error{Status: fiber.StatusServiceUnavailable, Code: "unavailable",
			Message: "the event could not be committed; retry", Cause: res.Err}
	}
	out := fiber.Map{"status": string(res.Outcome), "key": ev.Key}
	if res.Outcome == pipeline.DeadLettered {
		out["reason"] = res.Reason
	}
	return c.JSON(out)
}

// parse validates the payload and builds the event. Shape errors are 400; a
// well-formed event this sidecar does not consume (table, type) is 422.
func (h *Handler) parse(body []byte) (*change.Event, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bad("body is empty; expected a JSON object {type, table, schema, record, old_record}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var p payload
	if err := dec.Decode(&p); err != nil {
		return nil, bad("body is not a JSON object of the webhook shape: %v", err)
	}
	if dec.More() {
		return nil, bad("body has data after the JSON object")
	}
	if p.Type == nil || *p.Type == "" {
		return nil, bad("type is required (INSERT, UPDATE or DELETE)")
	}
	if p.Table == nil || *p.Table == "" {
		return nil, bad("table is required")
	}
	if p.Schema == nil || *p.Schema == "" {
		return nil, bad("schema is required")
	}
	op := change.Op(*p.Type)
	switch op {
	case change.Insert, change.Update, change.Delete:
	default:
		return nil, httpapi.NewError(fiber.StatusUnprocessableEntity, "unsupported_type",
			"type %q is not handled; expected INSERT, UPDATE or DELETE", *p.Type)
	}
	if *p.Schema != "public" || !h.tables[*p.Table] {
		return nil, httpapi.NewError(fiber.StatusUnprocessableEntity, "unsupported_table",
			"table %s.%s is not consumed by this sidecar", *p.Schema, *p.Table)
	}
	rec, err := object("record", p.Record)
	if err != nil {
		return nil, err
	}
	old, err := object("old_record", p.OldRecord)
	if err != nil {
		return nil, err
	}
	switch op {
	case change.Insert:
		if rec == nil {
			return nil, bad("record is required for INSERT")
		}
	case change.Update:
		if rec == nil || old == nil {
			return nil, bad("record and old_record are required for UPDATE")
		}
	case change.Delete:
		if old == nil {
			return nil, bad("old_record is required for DELETE")
		}
	}
	ev := &change.Event{Source: change.SourceWebhook, Schema: *p.Schema, Table: *p.Table, Op: op, New: rec, Old: old}
	if op == change.Delete {
		ev.New = nil
	}
	if op == change.Insert {
		ev.Old = nil
	}
	if ev.Table == "talent_profiles" {
		row := ev.New
		if op == change.Delete {
			row = ev.Old
		}
		if row.Str("id") == "" {
			return nil, bad("%s.id is required for talent_profiles", recordName(op))
		}
		if _, ok := row.Int("version"); op != change.Delete && !ok {
			return nil, bad("record.version must be an integer for talent_profiles (it identifies the change)")
		}
	}
	ev.Key, err = change.KeyFor(ev.Table, op, ev.New, ev.Old)
	if err != nil {
		return nil, bad("%v", err)
	}
	return ev, nil
}

func recordName(op change.Op) string {
	if op == change.Delete {
		return "old_record"
	}
	return "record"
}

// object decodes a record field: absent or null is nil, an object is a normalised
// row, anything else is a 400 naming the field.
func object(name string, raw json.RawMessage) (change.Row, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, bad("%s must be an object or null", name)
	}
	row, err := rowjson.Decode(t)
	if err != nil {
		return nil, bad("%s: %v", name, fmt.Errorf("decoding: %w", err))
	}
	return row, nil
}
