package emailsend

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"github.com/talent-onboarding/backend/sidecar/internal/testlog"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

type signer struct {
	key *ecdsa.PrivateKey
	pub string
}

func newSigner(t *testing.T) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return signer{key: k, pub: base64.StdEncoding.EncodeToString(der)}
}

func (s signer) sign(t *testing.T, ts, body string) string {
	h := sha256.Sum256([]byte(ts + body))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, h[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(sig)
}

func post(t *testing.T, app *fiber.App, body, sig, ts string) (int, string) {
	req := httptest.NewRequest("POST", "/webhooks/sendgrid", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(signatureHeader, sig)
	}
	if ts != "" {
		req.Header.Set(timestampHeader, ts)
	}
	resp, err := app.Test(req, -1)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEventWebhook(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := newSigner(t)
	wh, err := NewEventWebhook(f.pool, s.pub, 0, testlog.New(t))
	require.NoError(t, err)
	app := fiber.New()
	wh.Register(app)

	f.queueOne(t, "k1")
	f.queueOne(t, "k2")
	_, err = f.pool.Exec(ctx, `update email_notifications set status = 'sent', provider_message_id = 'msgTWO' where idempotency_key = 'k2'`)
	require.NoError(t, err)

	now := strconv.FormatInt(time.Now().Unix(), 10)
	send := func(body string) (int, string) { return post(t, app, body, s.sign(t, now, body), now) }
	ev := func(event, key, msgID string, ts int64, reason string) string {
		return fmt.Sprintf(`{"email":"to@example.com","event":%q,"timestamp":%d,"sg_message_id":%q,"idempotency_key":%q,"reason":%q,"sg_event_id":"x"}`,
			event, ts, msgID, key, reason)
	}
	status := func(key string) (st, reason string) {
		require.NoError(t, f.pool.QueryRow(ctx, `select status, coalesce(bounce_reason,'') from email_notifications where idempotency_key = $1`, key).Scan(&st, &reason))
		return
	}

	t.Run("refused requests", func(t *testing.T) {
		body := "[" + ev("delivered", "k1", "", 100, "") + "]"
		code, resp := post(t, app, body, "", "")
		require.Equal(t, 401, code)
		require.JSONEq(t, `{"error":{"code":"bad_signature","message":"missing signature or timestamp header"}}`, resp)
		code, _ = post(t, app, body, s.sign(t, now, body+" "), now)
		require.Equal(t, 401, code, "signature over another body")
		other := newSigner(t)
		code, _ = post(t, app, body, other.sign(t, now, body), now)
		require.Equal(t, 401, code, "signed by another key")
		stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
		code, resp = post(t, app, body, s.sign(t, stale, body), stale)
		require.Equal(t, 401, code)
		require.Contains(t, resp, "away from now")
		code, _ = post(t, app, body, "%%%not base64", now)
		require.Equal(t, 401, code)
		code, _ = post(t, app, body, s.sign(t, "abc", body), "abc")
		require.Equal(t, 401, code)
		st, _ := status("k1")
		require.Equal(t, "queued", st, "nothing refused was applied")
		code, resp = send(`{"not":"an array"}`)
		require.Equal(t, 400, code)
		require.Contains(t, resp, `"code":"bad_json"`)
	})

	t.Run("delivered then duplicate then older bounce", func(t *testing.T) {
		body := "[" + ev("processed", "k1", "", 90, "") + "," + ev("delivered", "k1", "", 100, "") + "]"
		code, resp := send(body)
		require.Equal(t, 200, code, resp)
		st, _ := status("k1")
		require.Equal(t, "delivered", st)
		code, _ = send(body)
		require.Equal(t, 200, code)
		code, _ = send("[" + ev("bounce", "k1", "", 50, "stale bounce") + "]")
		require.Equal(t, 200, code)
		st, _ = status("k1")
		require.Equal(t, "delivered", st, "an older event never overrides a newer one")
	})

	t.Run("later bounce wins, then older delivered is ignored; matched by sg_message_id", func(t *testing.T) {
		code, _ := send("[" + ev("bounce", "", "msgTWO.filter0001.123.0", 200, "550 5.1.1 mailbox unavailable") + "]")
		require.Equal(t, 200, code)
		st, reason := status("k2")
		require.Equal(t, "bounced", st)
		require.Equal(t, "550 5.1.1 mailbox unavailable", reason)
		code, _ = send("[" + ev("delivered", "", "msgTWO.filter0001.123.0", 150, "") + "]")
		require.Equal(t, 200, code)
		st, _ = status("k2")
		require.Equal(t, "bounced", st)
		// The sender's late "sent" record never downgrades it.
		o := NewOutbox(f.pool, nil, nil, nil, nil, Options{}, testlog.New(t))
		var id string
		require.NoError(t, f.pool.QueryRow(ctx, `select id::text from email_notifications where idempotency_key='k2'`).Scan(&id))
		require.NoError(t, o.recordSent(ctx, []sentEmail{{c: claimed{id: id, attempts: 1}, providerID: "msgTWO"}}))
		st, _ = status("k2")
		require.Equal(t, "bounced", st)
	})

	t.Run("unknown messages and odd events are accepted and ignored", func(t *testing.T) {
		code, resp := send(`[{"event":"delivered","timestamp":1,"idempotency_key":"nope"},{"event":"open"},{"event":"delivered","timestamp":"x"},{"event":"bounce","timestamp":5,"idempotency_key":42}]`)
		require.Equal(t, 200, code, resp)
		require.JSONEq(t, `{"received":4,"applied":0}`, resp)
	})
}

func TestEventWebhookConfig(t *testing.T) {
	t.Parallel()
	_, err := NewEventWebhook(nil, "not base64!", 0, testlog.New(t))
	require.ErrorContains(t, err, "not base64")
	_, err = NewEventWebhook(nil, base64.StdEncoding.EncodeToString([]byte("junk")), 0, testlog.New(t))
	require.ErrorContains(t, err, "SENDGRID_WEBHOOK_PUBLIC_KEY")
	wh, err := NewEventWebhook(nil, "", 0, testlog.New(t))
	require.NoError(t, err)
	app := fiber.New()
	wh.Register(app)
	code, resp := post(t, app, "[]", "x", "1")
	require.Equal(t, 503, code)
	require.Contains(t, resp, `"code":"disabled"`)
}
