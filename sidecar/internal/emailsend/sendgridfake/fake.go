// Package sendgridfake is a SendGrid v3 mail/send stand-in for tests and benchmarks:
// a real HTTP server on loopback that checks each request as SendGrid would (API key,
// v3 schema) and can be told to fail. It is a fake, not a mock: the code under test
// talks HTTP to it exactly as to SendGrid.
package sendgridfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is how the fake answers a request instead of accepting it.
type Fault int

const (
	None        Fault = iota
	RateLimit         // 429 with X-RateLimit-Reset
	ServerError       // 500
	BadRequest        // 400 with a SendGrid error body
	Hang              // never answers (until the client gives up or the fake closes)
)

// Mail is one accepted request.
type Mail struct {
	MessageID  string
	To         []string
	From       string
	Subject    string
	Text, HTML string
	CustomArgs map[string]string
	ReplyTo    string
	At         time.Time
}

// Server is the fake. Create with New; Close when done.
type Server struct {
	*httptest.Server
	APIKey string

	mu        sync.Mutex
	accepted  []Mail
	requests  int
	invalid   []string
	faults    []Fault
	resetIn   time.Duration
	hang      chan struct{}
	closeOnce sync.Once
}

// New starts a fake accepting apiKey, on a loopback port.
func New(apiKey string) *Server {
	s := &Server{APIKey: apiKey, hang: make(chan struct{}), resetIn: 2 * time.Second}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewOn starts a fake listening on addr (host:port; port 0 picks one), for a
// sidecar that cannot reach this host's loopback (one in a network namespace).
func NewOn(apiKey, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{APIKey: apiKey, hang: make(chan struct{}), resetIn: 2 * time.Second}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Listener.Close()
	s.Server.Listener = ln
	s.Server.Start()
	return s, nil
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.hang) })
	s.Server.Close()
}

// FailNext makes the next requests answer with the given faults, one per request, in
// order; afterwards requests are accepted again.
func (s *Server) FailNext(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// SetRateLimitReset sets how far ahead X-RateLimit-Reset points on a 429.
func (s *Server) SetRateLimitReset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetIn = d
}

// Accepted returns the emails accepted so far.
func (s *Server) Accepted() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.accepted...)
}

// Requests counts every request received, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Invalid returns why requests were refused as invalid (schema or key).
func (s *Server) Invalid() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.invalid...)
}

func sgError(w http.ResponseWriter, status int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var f any
	if field != "" {
		f = field
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "field": f}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	fault := None
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	resetIn := s.resetIn
	s.mu.Unlock()

	refuse := func(status int, field, msg string) {
		s.mu.Lock()
		s.invalid = append(s.invalid, msg)
		s.mu.Unlock()
		sgError(w, status, field, msg)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		refuse(http.StatusNotFound, "", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		refuse(http.StatusUnauthorized, "", "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		refuse(http.StatusUnsupportedMediaType, "", "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 30<<20+1))
	if err != nil || len(body) > 30<<20 {
		refuse(http.StatusRequestEntityTooLarge, "", "request body too large or unreadable")
		return
	}
	m, field, msg := validate(body)
	if msg != "" {
		refuse(http.StatusBadRequest, field, msg)
		return
	}

	switch fault {
	case RateLimit:
		w.Header().Set("X-RateLimit-Limit", "600")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(resetIn).Unix(), 10))
		sgError(w, http.StatusTooManyRequests, "", "too many requests")
		return
	case ServerError:
		sgError(w, http.StatusInternalServerError, "", "internal error")
		return
	case BadRequest:
		sgError(w, http.StatusBadRequest, "personalizations.0.to.0.email", "The to email does not contain a valid address.")
		return
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return
	}

	id := make([]byte, 11)
	_, _ = rand.Read(id)
	m.MessageID = hex.EncodeToString(id)
	m.At = time.Now()
	s.mu.Lock()
	s.accepted = append(s.accepted, m)
	s.mu.Unlock()
	w.Header().Set("X-Message-Id", m.MessageID)
	w.WriteHeader(http.StatusAccepted)
}

type address struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// validate checks the parts of the v3 schema the sidecar uses, as SendGrid does.
func validate(body []byte) (m Mail, field, msg string) {
	var req struct {
		Personalizations []struct {
			To         []address      `json:"to"`
			Subject    string         `json:"subject"`
			CustomArgs map[string]any `json:"custom_args"`
		} `json:"personalizations"`
		From    *address `json:"from"`
		ReplyTo *address `json:"reply_to"`
		Subject string   `json:"subject"`
		Content []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"content"`
		CustomArgs map[string]any `json:"custom_args"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return m, "", "Bad Request: body is not valid JSON: " + err.Error()
	}
	if len(req.Personalizations) == 0 {
		return m, "personalizations", "The personalizations field is required and must have at least one personalization."
	}
	for i, p := range req.Personalizations {
		if len(p.To) == 0 {
			return m, fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."
		}
		for j, a := range p.To {
			if !validAddress(a.Email) {
				return m, fmt.Sprintf("personalizations.%d.to.%d.email", i, j), "Does not contain a valid address."
			}
			m.To = append(m.To, a.Email)
		}
		if p.Subject == "" && req.Subject == "" {
			return m, "subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."
		}
	}
	if req.From == nil || !validAddress(req.From.Email) {
		return m, "from.email", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."
	}
	if req.ReplyTo != nil && !validAddress(req.ReplyTo.Email) {
		return m, "reply_to.email", "The reply_to email does not contain a valid address."
	}
	if len(req.Content) == 0 {
		return m, "content", "Unless a valid template_id is provided, the content parameter is required."
	}
	for i, c := range req.Content {
		if c.Type == "" || c.Value == "" {
			return m, fmt.Sprintf("content.%d", i), "The content value must be a string at least one character in length."
		}
		if c.Type == "text/plain" && i != 0 {
			return m, fmt.Sprintf("content.%d.type", i), "If present, text/plain content must be first, followed by any other content."
		}
		switch c.Type {
		case "text/plain":
			m.Text = c.Value
		case "text/html":
			if i+1 < len(req.Content) && req.Content[i+1].Type == "text/plain" {
				return m, "content", "If present, text/plain and text/html may only be provided in that order."
			}
			m.HTML = c.Value
		}
	}
	m.CustomArgs = map[string]string{}
	for _, args := range append([]map[string]any{req.CustomArgs}, func() []map[string]any {
		var out []map[string]any
		for _, p := range req.Personalizations {
			out = append(out, p.CustomArgs)
		}
		return out
	}()...) {
		for k, v := range args {
			s, ok := v.(string)
			if !ok {
				return m, "custom_args", fmt.Sprintf("Custom arg %q must be a string.", k)
			}
			m.CustomArgs[k] = s
		}
	}
	m.From, m.Subject = req.From.Email, req.Subject
	if req.ReplyTo != nil {
		m.ReplyTo = req.ReplyTo.Email
	}
	return m, "", ""
}

func validAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
