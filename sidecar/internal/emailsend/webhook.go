package emailsend

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Header names of SendGrid's signed event webhook.
const (
	signatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	timestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

const (
	webhookMaxAge    = 5 * time.Minute
	webhookMaxBody   = 4 << 20
	webhookMaxEvents = 10000
)

// EventWebhook receives SendGrid's event webhook and records delivery outcomes.
//
// Precedence: only "delivered", "bounce" and "dropped" change a row. The event with
// the latest timestamp decides between delivered and bounced; on equal timestamps
// bounced wins. So duplicates change nothing, an old event arriving late never
// overrides a newer one, and a row never goes back to queued or sent. The sender's
// own "sent" record never downgrades delivered/bounced either.
type EventWebhook struct {
	pool *pgxpool.Pool
	key  *ecdsa.PublicKey
	log  *slog.Logger
	now  func() time.Time
	// dbTimeout bounds recording one event (DATABASE_TIMEOUT): SendGrid retries a
	// delivery that failed, so a silent connection is abandoned, not waited on.
	dbTimeout time.Duration
}

// NewEventWebhook parses the base64 DER public key (SENDGRID_WEBHOOK_PUBLIC_KEY). An
// empty key returns a webhook that refuses every request (503 disabled). dbTimeout
// bounds each event's statement (0: 10s).
func NewEventWebhook(pool *pgxpool.Pool, publicKeyBase64 string, dbTimeout time.Duration, log *slog.Logger) (*EventWebhook, error) {
	if dbTimeout <= 0 {
		dbTimeout = 10 * time.Second
	}
	w := &EventWebhook{pool: pool, log: log.With("component", "emailsend.webhook"), now: time.Now, dbTimeout: dbTimeout}
	if publicKeyBase64 == "" {
		return w, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKeyBase64))
	if err != nil {
		return nil, fmt.Errorf("parsing SENDGRID_WEBHOOK_PUBLIC_KEY: not base64: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parsing SENDGRID_WEBHOOK_PUBLIC_KEY: %T is not an ECDSA key", pub)
	}
	w.key = k
	return w, nil
}

// Register mounts POST /webhooks/sendgrid.
func (w *EventWebhook) Register(app *fiber.App) {
	app.Post("/webhooks/sendgrid", w.handle)
}

func jsonError(c *fiber.Ctx, status int, code, msg string) error {
	return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": code, "message": msg}})
}

type sgEvent struct {
	Event          string          `json:"event"`
	Timestamp      json.RawMessage `json:"timestamp"`
	SGMessageID    string          `json:"sg_message_id"`
	Reason         string          `json:"reason"`
	Response       string          `json:"response"`
	Type           string          `json:"type"`
	IdempotencyKey json.RawMessage `json:"idempotency_key"`
}

func (w *EventWebhook) handle(c *fiber.Ctx) error {
	if w.key == nil {
		return jsonError(c, fiber.StatusServiceUnavailable, "disabled", "the SendGrid event webhook is not configured (SENDGRID_WEBHOOK_PUBLIC_KEY)")
	}
	body := c.Body()
	if len(body) > webhookMaxBody {
		return jsonError(c, fiber.StatusRequestEntityTooLarge, "too_large", "body exceeds 4 MiB")
	}
	if err := w.verify(c.Get(signatureHeader), c.Get(timestampHeader), body); err != nil {
		w.log.Warn("refusing SendGrid webhook", "error", err)
		return jsonError(c, fiber.StatusUnauthorized, "bad_signature", err.Error())
	}
	var events []sgEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return jsonError(c, fiber.StatusBadRequest, "bad_json", "body must be a JSON array of SendGrid events: "+err.Error())
	}
	if len(events) > webhookMaxEvents {
		return jsonError(c, fiber.StatusRequestEntityTooLarge, "too_many_events", fmt.Sprintf("at most %d events per request", webhookMaxEvents))
	}
	applied := 0
	for _, ev := range events {
		ok, err := w.apply(c.UserContext(), ev)
		if err != nil {
			w.log.Error("recording SendGrid event", "event", ev.Event, "error", err)
			return jsonError(c, fiber.StatusServiceUnavailable, "unavailable", "could not record events; retry later")
		}
		if ok {
			applied++
		}
	}
	return c.JSON(fiber.Map{"received": len(events), "applied": applied})
}

// verify checks the ECDSA signature over timestamp+body and the timestamp's age.
func (w *EventWebhook) verify(sig, ts string, body []byte) error {
	if sig == "" || ts == "" {
		return errors.New("missing signature or timestamp header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("timestamp header is not a unix time")
	}
	if age := w.now().Sub(time.Unix(sec, 0)); age > webhookMaxAge || age < -webhookMaxAge {
		return fmt.Errorf("timestamp is %s away from now (limit %s)", age.Round(time.Second), webhookMaxAge)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errors.New("signature is not base64")
	}
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(body)
	if !ecdsa.VerifyASN1(w.key, h.Sum(nil), raw) {
		return errors.New("signature does not match")
	}
	return nil
}

// apply records one event; it reports whether a row changed.
func (w *EventWebhook) apply(ctx context.Context, ev sgEvent) (bool, error) {
	var status string
	switch ev.Event {
	case "delivered":
		status = "delivered"
	case "bounce", "dropped":
		status = "bounced"
	default:
		return false, nil // processed, deferred, open, click, …: no status change
	}
	// A malformed field skips that event, not the batch: SendGrid would retry a
	// refused batch forever.
	var sec int64
	if err := json.Unmarshal(ev.Timestamp, &sec); err != nil || sec <= 0 {
		return false, nil
	}
	at := time.Unix(sec, 0)
	var key string
	_ = json.Unmarshal(ev.IdempotencyKey, &key)
	msgID, _, _ := strings.Cut(ev.SGMessageID, ".")
	if key == "" && msgID == "" {
		return false, nil
	}
	reason := ev.Reason
	if reason == "" {
		reason = ev.Response
	}
	if reason == "" && status == "bounced" {
		reason = ev.Event
	}
	if len(reason) > 2000 {
		reason = reason[:2000]
	}
	ctx, cancel := context.WithTimeout(ctx, w.dbTimeout)
	defer cancel()
	tag, err := w.pool.Exec(ctx, `update public.email_notifications
		set status = $3::public.email_status,
			delivered_at = case when $3::public.email_status = 'delivered' then $4 else delivered_at end,
			bounce_reason = case when $3::public.email_status = 'bounced' then $5 else null end,
			last_event_at = $4, updated_at = now()
		where (($1 <> '' and idempotency_key = $1) or ($1 = '' and $2 <> '' and provider_message_id = $2))
		  and (last_event_at is null or last_event_at < $4 or (last_event_at = $4 and $3::public.email_status = 'bounced' and status <> 'bounced'))`,
		key, msgID, status, at, reason)
	if err != nil {
		return false, fmt.Errorf("updating email status: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}
