package emailsend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// fileSender writes each email as <dir>/<type>-<hash>.eml (the full MIME message) and
// .html (the HTML body, to open in a browser). The name derives from the idempotency
// key, so a repeated send overwrites instead of duplicating. It is the local default:
// a newcomer sees every email as a file.
type fileSender struct {
	dir string
}

// newFile creates dir when missing.
func newFile(dir string) (*fileSender, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating EMAIL_FILE_DIR %s: %w", dir, err)
	}
	return &fileSender{dir: dir}, nil
}

// Mail writes the two files atomically (write to a temporary name, rename).
func (f *fileSender) Mail(ctx context.Context, msg *Message) (string, error) {
	sum := sha256.Sum256([]byte(msg.IdempotencyKey))
	typ := msg.Type
	if typ == "" {
		typ = "email"
	}
	base := filepath.Join(f.dir, typ+"-"+hex.EncodeToString(sum[:8]))
	if err := writeAtomic(base+".html", []byte(msg.HTML)); err != nil {
		return "", temporary(err)
	}
	if err := writeAtomic(base+".eml", buildMIME(msg, time.Now())); err != nil {
		return "", temporary(err)
	}
	return "file:" + filepath.Base(base), nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
