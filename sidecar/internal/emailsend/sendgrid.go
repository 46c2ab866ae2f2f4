package emailsend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// sendGrid sends through the v3 mail/send API with sendgrid-go. The idempotency key
// and template name travel as custom_args, which SendGrid echoes in every event of
// the event webhook; that is how delivery events find their row.
type sendGrid struct {
	key, baseURL string
	client       *rest.Client
}

// newSendGrid returns a SendGrid provider. baseURL replaces https://api.sendgrid.com
// (proxies, tests); conns sizes the connection pool to the sender's concurrency.
func newSendGrid(apiKey, baseURL string, timeout time.Duration, conns int) *sendGrid {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	tr.MaxIdleConns = conns
	return &sendGrid{
		key:     apiKey,
		baseURL: strings.TrimRight(baseURL, "/"),
		client:  &rest.Client{HTTPClient: &http.Client{Timeout: timeout, Transport: tr}},
	}
}

// Mail sends msg and returns SendGrid's X-Message-Id.
func (s *sendGrid) Mail(ctx context.Context, msg *Message) (string, error) {
	m := mail.NewV3Mail()
	m.SetFrom(mail.NewEmail(msg.FromName, msg.FromEmail))
	m.Subject = msg.Subject
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail("", msg.To))
	m.AddPersonalizations(p)
	if msg.ReplyTo != "" {
		m.SetReplyTo(mail.NewEmail("", msg.ReplyTo))
	}
	// SendGrid requires text/plain before text/html.
	if msg.Text != "" {
		m.AddContent(mail.NewContent("text/plain", msg.Text))
	}
	m.AddContent(mail.NewContent("text/html", msg.HTML))
	m.SetCustomArg("idempotency_key", msg.IdempotencyKey)
	if msg.Type != "" {
		m.SetCustomArg("email_type", msg.Type)
		m.AddCategories(msg.Type)
	}

	req := sendgrid.GetRequest(s.key, "/v3/mail/send", s.baseURL)
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(m)
	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		return "", temporary(fmt.Errorf("sendgrid: %w", err))
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		id := header(resp.Headers, "X-Message-Id")
		if id == "" {
			id = "sendgrid:" + msg.IdempotencyKey
		}
		return id, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		e := &sendError{Err: fmt.Errorf("sendgrid: 429 rate limited: %s", sendgridMessage(resp.Body))}
		if reset, err := strconv.ParseInt(header(resp.Headers, "X-RateLimit-Reset"), 10, 64); err == nil {
			e.RetryAt = time.Unix(reset, 0)
		}
		return "", e
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return "", temporary(fmt.Errorf("sendgrid: %d: %s", resp.StatusCode, sendgridMessage(resp.Body)))
	default:
		return "", permanent(fmt.Errorf("sendgrid: %d: %s", resp.StatusCode, sendgridMessage(resp.Body)))
	}
}

func header(h map[string][]string, name string) string {
	if v := http.Header(h).Get(name); v != "" {
		return v
	}
	return ""
}

// sendgridMessage extracts the messages of a v3 error body ({"errors":[{"message"}]}).
func sendgridMessage(body string) string {
	var e struct {
		Errors []struct {
			Message string `json:"message"`
			Field   any    `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) == 0 {
		if len(body) > 500 {
			body = body[:500]
		}
		return strings.TrimSpace(body)
	}
	msgs := make([]string, 0, len(e.Errors))
	for _, x := range e.Errors {
		if x.Field != nil {
			msgs = append(msgs, fmt.Sprintf("%v: %s", x.Field, x.Message))
		} else {
			msgs = append(msgs, x.Message)
		}
	}
	return strings.Join(msgs, "; ")
}
