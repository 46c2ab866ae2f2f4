package emailsend

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// smtpServer is a minimal real SMTP server on loopback (RFC 5321 subset: EHLO,
// STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) written for these tests, so the
// provider is exercised over a real TCP + TLS conversation without a new dependency.
type smtpServer struct {
	addr       string
	cert       tls.Certificate
	user, pass string
	implicit   bool

	mu       sync.Mutex
	messages []smtpMessage
}

type smtpMessage struct {
	From, To string
	Data     string
	TLS      bool
	Authed   bool
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, pool
}

func startSMTP(t *testing.T, user, pass string, implicit bool) (*smtpServer, *x509.CertPool) {
	cert, roots := selfSigned(t)
	s := &smtpServer{cert: cert, user: user, pass: pass, implicit: implicit}
	var ln net.Listener
	var err error
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if implicit {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	s.addr = ln.Addr().String()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return s, roots
}

func (s *smtpServer) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(l string) { w.WriteString(l + "\r\n"); w.Flush() }
	isTLS, authed := s.implicit, false
	var m smtpMessage
	reply("220 fake ESMTP ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		arg := strings.TrimSpace(strings.TrimPrefix(line, strings.SplitN(line, " ", 2)[0]))
		switch verb {
		case "EHLO", "HELO":
			w.WriteString("250-fake\r\n")
			if !isTLS {
				w.WriteString("250-STARTTLS\r\n")
			} else if s.user != "" {
				w.WriteString("250-AUTH PLAIN\r\n")
			}
			reply("250 8BITMIME")
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if tc.Handshake() != nil {
				return
			}
			c, isTLS = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case "AUTH":
			parts := strings.Fields(arg)
			if len(parts) != 2 || parts[0] != "PLAIN" {
				reply("504 only AUTH PLAIN with initial response")
				continue
			}
			raw, _ := base64.StdEncoding.DecodeString(parts[1])
			if string(raw) != "\x00"+s.user+"\x00"+s.pass {
				reply("535 5.7.8 authentication failed")
				continue
			}
			authed = true
			reply("235 ok")
		case "MAIL":
			if s.user != "" && !authed {
				reply("530 5.7.0 authentication required")
				continue
			}
			m = smtpMessage{From: strings.Trim(strings.Fields(strings.TrimPrefix(arg, "FROM:"))[0], "<>"), TLS: isTLS, Authed: authed}
			reply("250 ok")
		case "RCPT":
			to := strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>")
			switch {
			case strings.HasPrefix(to, "nobody@"):
				reply("550 5.1.1 no such user")
			case strings.HasPrefix(to, "busy@"):
				reply("451 4.3.0 try again later")
			default:
				m.To = to
				reply("250 ok")
			}
		case "DATA":
			reply("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.mu.Lock()
			s.messages = append(s.messages, m)
			s.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		case "RSET", "NOOP":
			reply("250 ok")
		default:
			reply("502 not implemented")
		}
	}
}

func (s *smtpServer) received() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.messages...)
}

func testMessage(to string) *Message {
	return &Message{FromEmail: "talent@example.com", FromName: "Northlight Talent", ReplyTo: "help@example.com", To: to,
		Subject: "You're approved, Zoë", HTML: "<p>Hi Zoë</p>", Text: "Hi Zoë", Type: "approval", IdempotencyKey: "talent_profiles:x:v2:approval:" + to}
}

func TestSMTPStartTLSAndAuth(t *testing.T) {
	t.Parallel()
	srv, roots := startSMTP(t, "mailer", "s3cret", false)
	p, err := newSMTP("smtp://mailer:s3cret@"+srv.addr, &tls.Config{RootCAs: roots}, 5*time.Second)
	require.NoError(t, err)
	id, err := p.Mail(context.Background(), testMessage("zoe@example.com"))
	require.NoError(t, err)
	got := srv.received()
	require.Len(t, got, 1)
	require.True(t, got[0].TLS, "upgraded with STARTTLS")
	require.True(t, got[0].Authed)
	require.Equal(t, "talent@example.com", got[0].From)
	require.Equal(t, "zoe@example.com", got[0].To)
	msg, err := mail.ReadMessage(strings.NewReader(got[0].Data))
	require.NoError(t, err)
	require.Equal(t, id, msg.Header.Get("Message-Id"))
	subj, err := new(mimeDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "You're approved, Zoë", subj)
	require.Contains(t, msg.Header.Get("Content-Type"), "multipart/alternative")
	require.Equal(t, "talent_profiles:x:v2:approval:zoe@example.com", msg.Header.Get("X-Idempotency-Key"))

	// Wrong password: 535 is permanent.
	bad, err := newSMTP("smtp://mailer:wrong@"+srv.addr, &tls.Config{RootCAs: roots}, 5*time.Second)
	require.NoError(t, err)
	_, err = bad.Mail(context.Background(), testMessage("zoe@example.com"))
	perm, _ := classify(err)
	require.True(t, perm, err)

	// Unknown recipient (5xx) is permanent, a 4xx is temporary.
	_, err = p.Mail(context.Background(), testMessage("nobody@example.com"))
	perm, _ = classify(err)
	require.True(t, perm, err)
	_, err = p.Mail(context.Background(), testMessage("busy@example.com"))
	perm, _ = classify(err)
	require.False(t, perm, err)

	// An untrusted certificate is refused (temporary: ops may fix it).
	untrusted, err := newSMTP("smtp://mailer:s3cret@"+srv.addr, nil, 5*time.Second)
	require.NoError(t, err)
	_, err = untrusted.Mail(context.Background(), testMessage("zoe@example.com"))
	require.ErrorContains(t, err, "certificate")
}

func TestSMTPImplicitTLS(t *testing.T) {
	t.Parallel()
	srv, roots := startSMTP(t, "u", "p", true)
	p, err := newSMTP("smtps://u:p@"+srv.addr, &tls.Config{RootCAs: roots}, 5*time.Second)
	require.NoError(t, err)
	_, err = p.Mail(context.Background(), testMessage("zoe@example.com"))
	require.NoError(t, err)
	require.Len(t, srv.received(), 1)
	require.True(t, srv.received()[0].TLS)
}

func TestSMTPThroughOutbox(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv, roots := startSMTP(t, "u", "p", false)
	p, err := newSMTP("smtp://u:p@"+srv.addr, &tls.Config{RootCAs: roots}, 5*time.Second)
	require.NoError(t, err)
	f.queueOne(t, "smtp-1")
	startOutbox(t, f, p, nil, nil, Options{})
	eventually(t, "sent", func() bool { return f.row(t, "smtp-1").Status == "sent" })
	require.Len(t, srv.received(), 1)
	require.True(t, strings.HasPrefix(f.row(t, "smtp-1").ProviderID, "<"))
}

func TestSMTPURLErrors(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "http://x", "smtp://", "::"} {
		_, err := newSMTP(u, nil, time.Second)
		require.Error(t, err, u)
	}
}

func TestFileProvider(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "emails")
	p, err := newFile(dir)
	require.NoError(t, err)
	msg := testMessage("zoe@example.com")
	id, err := p.Mail(context.Background(), msg)
	require.NoError(t, err)
	_, err = p.Mail(context.Background(), msg) // a repeat overwrites, never duplicates
	require.NoError(t, err)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Len(t, files, 2)
	name := strings.TrimPrefix(id, "file:")
	html, err := os.ReadFile(filepath.Join(dir, name+".html"))
	require.NoError(t, err)
	require.Equal(t, msg.HTML, string(html))
	eml, err := os.Open(filepath.Join(dir, name+".eml"))
	require.NoError(t, err)
	defer eml.Close()
	parsed, err := mail.ReadMessage(eml)
	require.NoError(t, err)
	require.Equal(t, `"Northlight Talent" <talent@example.com>`, parsed.Header.Get("From"))
}

type mimeDecoder = mime.WordDecoder
