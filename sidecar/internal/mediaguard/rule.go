package mediaguard

import (
	"regexp"
	"strings"
)

// The rule on one string, mirrored line for line by private.media_check_string in
// migrations/20261121002000_media_guard.sql. Both sides use the same regular
// expressions under leftmost-longest (POSIX) semantics, which is what Postgres
// regular expressions give, so the differential test can demand equal verdicts.
//
// Thresholds (documented in the migration too):
//   - MinRun: a run of the base64 alphabet (standard A-Za-z0-9+/ or URL-safe
//     A-Za-z0-9-_) shorter than this is never looked at.
//   - a run of at least MinRun that starts with the base64 form of a media file's
//     magic number (see magic) is refused;
//   - a run of at least LongRun characters mixing upper case, lower case and digits,
//     with 16 alphanumerics in a row somewhere (so slash- or hyphen-separated lists
//     do not count), not pure hex and not inside an http(s) URL, is refused; a run of at least HugeRun is refused whatever it
//     holds. Runs continue across line breaks when the line before is at least
//     MinRun long, so base64 wrapped at 76 (MIME) or 64 (PEM) counts whole.
const (
	MinRun  = 16
	LongRun = 64
	HugeRun = 512
	// minSuspect is the shortest string any rule can refuse ("data:;a,").
	minSuspect = 8
)

// Kinds of violation.
const (
	KindDataURI     = "data-uri"
	KindBase64Media = "base64-media"
	KindBase64Blob  = "base64-blob"
	KindNotStorage  = "not-storage-url"
)

const ws = `[ \t\n\r\f\v]*`

// magicAny finds any magic number below in either alphabet (the URL-safe form of
// /9j/ is _9j_).
const magicAny = `/9j/|_9j_|iVBORw0KGgo|R0lGOD|UklGR|AAAA[A-Za-z0-9+/_-]{2}Z0eX|SUQz|T2dnUw|GkXf|ZkxhQw|Rk9STQ|SUkqA|TU0AK|PHN2Zy|PD94bWwg|JVBERi0|UEsDB|H4sI|TVRoZA`

var (
	// suspect is the cheap pre-check: nothing it misses can be refused. isSuspect is
	// its hand-written twin (Go's regexp is slow on counted repetition); the fuzz
	// target checks they agree.
	suspect = regexp.MustCompile(`%|[aA]` + ws + `:|` + magicAny + `|[A-Za-z0-9+/]{64}|[A-Za-z0-9_-]{64}` +
		`|[A-Za-z0-9+/]{16}={0,2}[ \t]*\r?\n|[A-Za-z0-9_-]{16}={0,2}[ \t]*\r?\n`)

	dataToken = `[a-z0-9!#$&^_.+-]+`
	dataParam = `;` + ws + dataToken + ws + `(?:=` + ws + `(?:"[^"]*"|[^;,"]*)` + ws + `)?`
	dataURI   = regexp.MustCompile(`(?i)(?:^|[^a-z0-9])d` + ws + `a` + ws + `t` + ws + `a` + ws + `:` + ws +
		`(?:(?:image|audio|video|application|text|font|model|multipart|message)` + ws + `/` + ws + dataToken + ws +
		`(?:(?:` + dataParam + `)+,|,[^ \t\n\r\f\v])` +
		`|(?:` + dataParam + `)+,` +
		`|(?:base64` + ws + `)?,[^ \t\n\r\f\v]{8})`)
	dataType = regexp.MustCompile(`(?i)d` + ws + `a` + ws + `t` + ws + `a` + ws + `:` + ws +
		`((?:image|audio|video|application|text|font|model|multipart|message)` + ws + `/` + ws + dataToken + `)`)

	runStd = longest(`[A-Za-z0-9+/]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{16,}={0,2})*(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]+={0,2})?`)
	runURL = longest(`[A-Za-z0-9_-]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9_-]{16,}={0,2})*(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9_-]+={0,2})?`)

	pureHex = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	alnum16 = regexp.MustCompile(`[A-Za-z0-9]{16}`)
	urlRE   = regexp.MustCompile(`(?i)https?://[^ \t\n\r\f\v]+`)
)

func longest(expr string) *regexp.Regexp {
	re := regexp.MustCompile(expr)
	re.Longest()
	return re
}

// magic lists the base64 forms (standard alphabet) of the first bytes of media and
// file formats. The ftyp box of MP4/MOV/M4A/HEIC/AVIF starts with a 4-byte size,
// so its entry is a pattern.
var magic = []struct {
	re  *regexp.Regexp
	typ string
}{
	{regexp.MustCompile(`^/9j/`), "image/jpeg"},
	{regexp.MustCompile(`^iVBORw0KGgo`), "image/png"},
	{regexp.MustCompile(`^R0lGOD`), "image/gif"},
	{regexp.MustCompile(`^UklGR`), "audio/wav"}, // RIFF: WAV, WEBP, AVI
	{regexp.MustCompile(`^AAAA[A-Za-z0-9+/]{2}Z0eX`), "video/mp4"},
	{regexp.MustCompile(`^SUQz`), "audio/mpeg"},
	{regexp.MustCompile(`^T2dnUw`), "audio/ogg"},
	{regexp.MustCompile(`^GkXf`), "video/webm"},
	{regexp.MustCompile(`^ZkxhQw`), "audio/flac"},
	{regexp.MustCompile(`^Rk9STQ`), "audio/aiff"},
	{regexp.MustCompile(`^SUkqA|^TU0AK`), "image/tiff"},
	{regexp.MustCompile(`^PHN2Zy|^PD94bWwg`), "image/svg+xml"},
	{regexp.MustCompile(`^JVBERi0`), "application/pdf"},
	{regexp.MustCompile(`^UEsDB`), "application/zip"},
	{regexp.MustCompile(`^H4sI`), "application/gzip"},
	{regexp.MustCompile(`^TVRoZA`), "audio/midi"},
}

// finding is what the rule says about one string.
type finding struct {
	Kind, Type string
}

// inspectString applies the inline-media rule to one string (a text column, an array
// element, a JSON string or key). ok is false when the string is refused.
func inspectString(s string) (finding, bool) {
	if len(s) < minSuspect || !isSuspect(s) {
		return finding{}, true
	}
	if strings.IndexByte(s, '%') >= 0 {
		s = pctDecode(pctDecode(s))
	}
	if dataURI.MatchString(s) {
		typ := ""
		if m := dataType.FindStringSubmatch(s); m != nil {
			typ = strings.ToLower(stripWS(m[1]))
		}
		return finding{Kind: KindDataURI, Type: typ}, false
	}
	// Magic numbers and huge runs count anywhere; the long-run tier ignores URLs,
	// whose paths and tokens (document ids, signed-URL JWTs) look like base64.
	for _, re := range []*regexp.Regexp{runStd, runURL} {
		for _, run := range re.FindAllString(s, -1) {
			c := compactRun(run)
			if len(c) < MinRun {
				continue
			}
			if typ := magicType(c); typ != "" {
				return finding{Kind: KindBase64Media, Type: typ}, false
			}
			if len(c) >= HugeRun {
				return finding{Kind: KindBase64Blob}, false
			}
		}
	}
	noURL := urlRE.ReplaceAllString(s, " ")
	for _, re := range []*regexp.Regexp{runStd, runURL} {
		for _, run := range re.FindAllString(noURL, -1) {
			if c := compactRun(run); len(c) >= LongRun && mixed(c) {
				return finding{Kind: KindBase64Blob}, false
			}
		}
	}
	return finding{}, true
}

// compactRun drops line breaks, blanks and padding from a run and maps the URL-safe
// alphabet onto the standard one.
func compactRun(run string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '=':
			return -1
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, run)
}

func magicType(c string) string {
	for _, m := range magic {
		if m.re.MatchString(c) {
			return m.typ
		}
	}
	return ""
}

// mixed is what separates a base64 blob from long words, numbers, hashes and
// slash- or hyphen-separated lists.
func mixed(c string) bool {
	return strings.ContainsAny(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		strings.ContainsAny(c, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(c, "0123456789") &&
		alnum16.MatchString(c) && !pureHex.MatchString(c)
}

func stripWS(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\n\r\f\v", r) {
			return -1
		}
		return r
	}, s)
}

// pctDecode decodes %XX escapes of printable ASCII, tab, LF and CR, and leaves every
// other escape as it is (Postgres' chr() refuses NUL, and a byte above 0x7F is not a
// character on its own). The SQL twin is private.media_pct_decode.
func pctDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, ok := unhex2(s[i+1], s[i+2]); ok && (v == '\t' || v == '\n' || v == '\r' || (v >= 0x20 && v <= 0x7e)) {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// storagePath matches what follows '<base>/storage/v1/object/' in a media URL of bucket.
func storagePathRE(bucket string) *regexp.Regexp {
	return regexp.MustCompile(`^(?:public/|sign/|authenticated/)?` + regexp.QuoteMeta(bucket) + `/[^?# \t\n\r\f\v]+(?:\?[^# \t\n\r\f\v]*)?$`)
}

// inspectURL applies the media URL column rule: empty means "no media"; anything else
// must be an object URL of bucket under base, and its path (not its query, which holds
// a signed URL's token) must pass the inline rule too.
func inspectURL(s, bucket, base string, pathRE *regexp.Regexp) (finding, bool) {
	if s == "" {
		return finding{}, true
	}
	// Fast path (the trigger's too): '<uuid>/<lower-case name>' under the bucket holds
	// nothing the rule refuses.
	if fastURL(s, bucket, base) {
		return finding{}, true
	}
	prefix := base + "/storage/v1/object/"
	head := s
	if i := strings.IndexAny(head, "?#"); i >= 0 {
		head = head[:i]
	}
	if f, ok := inspectString(head); !ok {
		return f, false
	}
	if !strings.HasPrefix(s, prefix) || !pathRE.MatchString(s[len(prefix):]) {
		return finding{Kind: KindNotStorage}, false
	}
	return finding{}, true
}

func isB64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

var magicLiterals = []string{"/9j/", "_9j_", "iVBORw0KGgo", "R0lGOD", "UklGR", "SUQz", "T2dnUw", "GkXf",
	"ZkxhQw", "Rk9STQ", "SUkqA", "TU0AK", "PHN2Zy", "PD94bWwg", "JVBERi0", "UEsDB", "H4sI", "TVRoZA"}

func isStd(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }
func isURL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }
func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// isSuspect is the pre-check regexp suspect written out: '%', an 'a' followed by
// blanks and ':', a magic number, 64 characters of one base64 alphabet in a row, or
// 16 of them ending a line (before up to two '=', blanks and CR).
func isSuspect(s string) bool {
	if strings.IndexByte(s, '%') >= 0 {
		return true
	}
	std, url := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isStd(c) {
			std++
		} else {
			std = 0
		}
		if isURL(c) {
			url++
		} else {
			url = 0
		}
		if std >= LongRun || url >= LongRun {
			return true
		}
		switch c {
		case 'a', 'A':
			j := i + 1
			for j < len(s) && isBlank(s[j]) {
				j++
			}
			if j < len(s) && s[j] == ':' {
				return true
			}
		case '\n':
			if endsLine(s[:i]) {
				return true
			}
		}
	}
	for _, m := range magicLiterals {
		if strings.Contains(s, m) {
			return true
		}
	}
	for i := 0; i+10 <= len(s); i++ {
		if s[i:i+4] == "AAAA" && s[i+6:i+10] == "Z0eX" && isB64Char(s[i+4]) && isB64Char(s[i+5]) {
			return true
		}
	}
	return false
}

// endsLine reports whether s ends with 16 characters of one alphabet, up to two '=',
// blanks or tabs and an optional CR: a line of wrapped base64.
func endsLine(s string) bool {
	j := len(s)
	if j > 0 && s[j-1] == '\r' {
		j--
	}
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	for k := 0; k < 2 && j > 0 && s[j-1] == '='; k++ {
		j--
	}
	if j < MinRun {
		return false
	}
	allStd, allURL := true, true
	for _, c := range []byte(s[j-MinRun : j]) {
		allStd = allStd && isStd(c)
		allURL = allURL && isURL(c)
	}
	return allStd || allURL
}

// fastURL is private.media_url_fast: an object URL whose path is lower-case letters,
// digits and . _ - / (no "/9j/" or "_9j_", the JPEG magic number), shorter than 512, with a query free of blanks and
// '#', cannot hold anything the rule refuses. false means "run the full rule".
func fastURL(s, bucket, base string) bool {
	prefix := base + "/storage/v1/object/"
	if len(s) >= 512 || base != strings.ToLower(base) || !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	for _, p := range []string{"public/", "sign/", "authenticated/"} {
		if strings.HasPrefix(rest, p) {
			rest = rest[len(p):]
			break
		}
	}
	if !strings.HasPrefix(rest, bucket+"/") {
		return false
	}
	rest = rest[len(bucket)+1:]
	path, query, hasQuery := strings.Cut(rest, "?")
	if path == "" || strings.Contains(path, "/9j/") || strings.Contains(path, "_9j_") {
		return false
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return false
		}
	}
	return !hasQuery || !strings.ContainsAny(query, "# \t\n\r\f\v")
}
