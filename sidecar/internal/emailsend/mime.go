package emailsend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// messageID derives a stable Message-ID from the idempotency key, so a repeated
// delivery of the same email carries the same id and receivers can fold repeats.
func messageID(msg *Message) string {
	sum := sha256.Sum256([]byte(msg.IdempotencyKey))
	domain := "localhost"
	if i := strings.LastIndex(msg.FromEmail, "@"); i >= 0 {
		domain = msg.FromEmail[i+1:]
	}
	return "<" + hex.EncodeToString(sum[:12]) + "@" + domain + ">"
}

// buildMIME renders msg as an RFC 5322 message with text and HTML alternatives.
func buildMIME(msg *Message, now time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", (&mail.Address{Name: msg.FromName, Address: msg.FromEmail}).String())
	h("To", (&mail.Address{Address: msg.To}).String())
	if msg.ReplyTo != "" {
		h("Reply-To", (&mail.Address{Address: msg.ReplyTo}).String())
	}
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(msg.Subject)))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", messageID(msg))
	h("X-Idempotency-Key", oneLine(msg.IdempotencyKey))
	if msg.Type != "" {
		h("X-Email-Type", oneLine(msg.Type))
	}
	h("MIME-Version", "1.0")

	mw := multipart.NewWriter(&b)
	h("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	part := func(ctype, body string) {
		w, _ := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {ctype + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		qw := quotedprintable.NewWriter(w)
		_, _ = qw.Write([]byte(body))
		_ = qw.Close()
	}
	if msg.Text != "" {
		part("text/plain", msg.Text)
	}
	part("text/html", msg.HTML)
	_ = mw.Close()
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
