package emailsend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"time"
)

// smtpSender sends through an SMTP server: smtp://host:587 upgrades with STARTTLS when the
// server offers it (and requires it before AUTH), smtps://host:465 uses implicit TLS.
// Credentials come from the URL's user info (AUTH PLAIN). Each email uses its own
// connection: simple, and the outbox bounds concurrency.
type smtpSender struct {
	addr, host string
	implicit   bool
	user, pass string
	tls        *tls.Config
	timeout    time.Duration
	localName  string
}

// newSMTP parses SMTP_URL. tlsConfig may be nil (system roots, ServerName from the
// URL); tests pass one trusting their own certificate.
func newSMTP(rawURL string, tlsConfig *tls.Config, timeout time.Duration) (*smtpSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("parsing SMTP_URL: not a URL")
	}
	s := &smtpSender{host: u.Hostname(), timeout: timeout, localName: "localhost"}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("parsing SMTP_URL: scheme must be smtp or smtps, got %q", u.Scheme)
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	s.tls = tlsConfig.Clone()
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// Mail delivers msg and returns its Message-ID.
func (s *smtpSender) Mail(ctx context.Context, msg *Message) (string, error) {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	var conn net.Conn
	var err error
	d := &net.Dialer{}
	if s.implicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return "", temporary(fmt.Errorf("smtp: connecting to %s: %w", s.addr, err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return "", smtpErr("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.localName); err != nil {
		return "", smtpErr("EHLO", err)
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tls); err != nil {
				return "", smtpErr("STARTTLS", err)
			}
		} else if s.user != "" {
			return "", permanent(errors.New("smtp: server does not offer STARTTLS; refusing to send credentials in clear"))
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return "", smtpErr("AUTH", err)
		}
	}
	if err := c.Mail(msg.FromEmail); err != nil {
		return "", smtpErr("MAIL FROM", err)
	}
	if err := c.Rcpt(msg.To); err != nil {
		return "", smtpErr("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return "", smtpErr("DATA", err)
	}
	if _, err := w.Write(buildMIME(msg, time.Now())); err != nil {
		return "", smtpErr("writing message", err)
	}
	if err := w.Close(); err != nil {
		return "", smtpErr("ending DATA", err)
	}
	_ = c.Quit()
	return messageID(msg), nil
}

// smtpErr classifies by reply code: 5xx is permanent, everything else (4xx, network)
// is worth retrying.
func smtpErr(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent(fmt.Errorf("smtp: %s: %w", step, err))
	}
	return temporary(fmt.Errorf("smtp: %s: %w", step, err))
}
