package deploycheck

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// docPages are the pages a reader is sent to: the README, every page under docs/
// and the runbook the README links. Their relative links must lead somewhere and
// the make targets they name must exist.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	pages := []string{"README.md", filepath.Join("deploy", "RUNBOOK.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			pages = append(pages, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return pages
}

// TestDocsLinks: every relative link target in the pages exists, and a link with
// an #anchor into a markdown file names one of its headings, by GitHub's rules.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	root := testdb.Root(t)
	for _, page := range docPages(t, root) {
		t.Run(page, func(t *testing.T) {
			t.Parallel()
			for _, l := range markdownLinks(t, filepath.Join(root, page)) {
				if msg := checkLink(root, page, l.target); msg != "" {
					t.Errorf("%s:%d: link %q: %s", page, l.line, l.target, msg)
				}
			}
		})
	}
}

// TestDocsMakeTargets: every `make <target>` the README and the docs pages name is
// a target of the Makefile.
func TestDocsMakeTargets(t *testing.T) {
	t.Parallel()
	root := testdb.Root(t)
	targets := makefileTargets(t, filepath.Join(root, "Makefile"))
	require.Contains(t, targets, "run")
	require.Contains(t, targets, "test")
	for _, page := range docPages(t, root) {
		for _, m := range makeMentions(t, filepath.Join(root, page)) {
			if !targets[m.target] {
				t.Errorf("%s:%d: `make %s` is not a target of the Makefile", page, m.line, m.target)
			}
		}
	}
}

type mention struct {
	line   int
	target string
}

var (
	linkPattern   = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refDefPattern = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)`)
	schemePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	codeSpan      = regexp.MustCompile("`[^`]*`")
	makePattern   = regexp.MustCompile(`(?:^|[^\w-])make\s+([a-z][a-z0-9_-]*)`)
)

// markdownLines calls each with every line of a markdown file and whether it is
// inside a fenced code block (its fences included).
func markdownLines(t *testing.T, path string, each func(n int, line string, code bool)) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	fence := ""
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
			each(n, line, true)
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			each(n, line, true)
		default:
			each(n, line, strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t"))
		}
	}
	require.NoError(t, s.Err())
}

// markdownLinks lists the relative links of a page (inline, images and reference
// definitions), outside code.
func markdownLinks(t *testing.T, path string) []mention {
	var out []mention
	markdownLines(t, path, func(n int, line string, code bool) {
		if code {
			return
		}
		line = codeSpan.ReplaceAllString(line, "")
		var targets []string
		for _, m := range linkPattern.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
		if m := refDefPattern.FindStringSubmatch(line); m != nil {
			targets = append(targets, m[1])
		}
		for _, target := range targets {
			if !schemePattern.MatchString(target) && !strings.HasPrefix(target, "//") {
				out = append(out, mention{n, target})
			}
		}
	})
	return out
}

// checkLink says what is wrong with a relative link from page ("" when nothing).
func checkLink(root, page, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	file := filepath.Join(root, page)
	if path != "" {
		if strings.HasPrefix(path, "/") {
			file = filepath.Join(root, path)
		} else {
			file = filepath.Join(root, filepath.Dir(page), path)
		}
		if _, err := os.Stat(file); err != nil {
			return "no such file"
		}
	}
	if anchor == "" || !strings.HasSuffix(file, ".md") {
		return ""
	}
	anchors, err := headingAnchors(file)
	if err != nil {
		return err.Error()
	}
	if !anchors[anchor] {
		return "no heading with that anchor in " + filepath.Base(file)
	}
	return ""
}

var (
	headingPattern  = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	inlineLink      = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	explicitAnchors = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// headingAnchors lists the anchors GitHub gives a markdown file's headings: the
// heading's text lowercased, every character that is not a letter, digit, space,
// hyphen or underscore dropped, spaces turned into hyphens; a repeated anchor gets
// -1, -2 … Explicit <a name> / <a id> anchors count too.
func headingAnchors(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence = trimmed[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		for _, m := range explicitAnchors.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
		m := headingPattern.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := githubAnchor(m[2])
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out, nil
}

// githubAnchor is the anchor GitHub makes of a heading's text.
func githubAnchor(heading string) string {
	heading = inlineLink.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// makeMentions lists the `make <target>` a page names in code: inline code spans,
// indented and fenced blocks (prose such as "make sure" is not a command).
func makeMentions(t *testing.T, path string) []mention {
	var out []mention
	markdownLines(t, path, func(n int, line string, code bool) {
		var parts []string
		if code {
			parts = []string{line}
		} else {
			parts = codeSpan.FindAllString(line, -1)
		}
		for _, p := range parts {
			for _, m := range makePattern.FindAllStringSubmatch(p, -1) {
				out = append(out, mention{n, m[1]})
			}
		}
	})
	return out
}

var targetLine = regexp.MustCompile(`^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*::?(?:[^=]|$)`)

// makefileTargets parses the rules' targets out of a Makefile (special targets
// such as .PHONY and variable assignments are not targets).
func makefileTargets(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "\t") {
			continue
		}
		m := targetLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, name := range strings.Fields(m[1]) {
			if !strings.HasPrefix(name, ".") {
				out[name] = true
			}
		}
	}
	return out
}

// TestGitHubAnchor pins the anchor rules on headings these pages use.
func TestGitHubAnchor(t *testing.T) {
	t.Parallel()
	for heading, want := range map[string]string{
		"Policies: files rendered into migrations":                    "policies-files-rendered-into-migrations",
		"A profile's email belongs to its account":                    "a-profiles-email-belongs-to-its-account",
		"6. Rotating WEBHOOK_SECRET":                                  "6-rotating-webhook_secret",
		"Figures (`make bench`)":                                      "figures-make-bench",
		"11. Decommissioning: removing the slot safely":               "11-decommissioning-removing-the-slot-safely",
		"Sidecar runbook — [link](x.md)":                              "sidecar-runbook--link",
		"12. Deleted talents' media: failed cleanups and re-queueing": "12-deleted-talents-media-failed-cleanups-and-re-queueing",
	} {
		require.Equal(t, want, githubAnchor(heading), heading)
	}
	targets := makefileTargets(t, filepath.Join(testdb.Root(t), "Makefile"))
	require.NotContains(t, targets, ".PHONY")
	require.NotContains(t, targets, "SHELL")
	require.Contains(t, targets, "db-stop")
}
