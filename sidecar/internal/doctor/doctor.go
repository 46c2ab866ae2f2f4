// Package doctor checks a target database for everything the sidecar needs and
// says which of its two input modes the database allows with the role it runs as:
// replication (logical WAL, slots and WAL senders to spare, a role allowed to
// replicate, the publications, the slot's health) and webhooks only (through the
// session pooler, say). Both need the migrations, the change record and the right
// to claim its records; webhooks are optional with replication and a matter of
// latency without it, since the catch-up applies every record either way. It prints
// a checklist that says how to fix each failure, ending with each mode's verdict.
// Ops run it before the first deploy and whenever an input misbehaves (`sidecar
// doctor`). Package inspect reads the database's facts; this package judges them
// (checks.go, pure functions of the facts) and prints the report.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talent-onboarding/backend/sidecar/internal/config"
	"github.com/talent-onboarding/backend/sidecar/internal/doctor/inspect"
	"github.com/talent-onboarding/backend/sidecar/internal/replication"
)

// Exit codes of Check (and of `sidecar doctor`).
const (
	ExitOK     = 0 // the mode REPLICATION_ENABLED selects is ready (checks of the other may fail)
	ExitFailed = 1 // a check that mode needs failed
	ExitUsage  = 2 // bad flags or URL, or the database could not be reached
)

// DefaultMaxLag is the slot lag above which the lag check fails.
const DefaultMaxLag int64 = 256 << 20

// Options say what to check: the sidecar's own settings (cmd/sidecar fills them
// from the flags and the environment, with the sidecar's defaults) and
// Migrations, the versions expected applied (EmbeddedMigrations: those built in).
// WebhooksOnly is REPLICATION_ENABLED=false: the mode whose readiness decides the
// exit code (the zero value is the sidecar's default, replication).
type Options struct {
	DatabaseURL  string
	Slot         string
	Publication  string
	WebhooksOnly bool
	MaxLagBytes  int64
	Migrations   []string
	Timeout      time.Duration
}

// Mode is the input mode the options select.
func (o Options) Mode() Mode {
	if o.WebhooksOnly {
		return WebhooksOnly
	}
	return Replication
}

// viaPooler reports whether the URL looks like Supabase's pooler (Supavisor),
// which cannot carry a replication connection.
func (o Options) viaPooler() bool {
	u, err := url.Parse(o.DatabaseURL)
	if err != nil {
		return false
	}
	return u.Port() == "6543" || strings.HasSuffix(u.Hostname(), ".pooler.supabase.com")
}

// Check runs the checks opt describes, prints the checklist to stdout and returns
// the exit code of `sidecar doctor` (whose flags cmd/sidecar parses into opt): an
// error that kept anything from being checked goes to stderr with ExitUsage.
func Check(ctx context.Context, opt Options, stdout, stderr io.Writer) int {
	results, err := runChecks(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "doctor: %v\n", err)
		return ExitUsage
	}
	printReport(stdout, opt, results)
	if len(missingFor(results, opt.Mode())) > 0 {
		return ExitFailed
	}
	return ExitOK
}

// errInput marks errors caused by the caller's input (flags, URL), as opposed to
// an unreachable database; both end with ExitUsage.
var errInput = errors.New("invalid input")

// runChecks validates opt, connects and evaluates every check. An error means nothing
// could be checked (bad input or no connection); failed checks are results.
func runChecks(ctx context.Context, opt Options) ([]checkResult, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 20 * time.Second
	}
	if opt.DatabaseURL == "" {
		return nil, fmt.Errorf("%w: no database: set DATABASE_URL or pass --database-url", errInput)
	}
	u, err := url.Parse(opt.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("%w: database URL must look like postgresql://user:password@host:5432/postgres", errInput)
	}
	if !config.ValidSlot(opt.Slot) {
		return nil, fmt.Errorf("%w: --slot must be %s, got %q", errInput, config.SlotRule, opt.Slot)
	}
	if !config.ValidPublication(opt.Publication) {
		return nil, fmt.Errorf("%w: --publication must be %s, got %q", errInput, config.PublicationRule, opt.Publication)
	}
	cfg, err := pgx.ParseConfig(opt.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing database URL: %v", errInput, redact(err, u))
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > opt.Timeout {
		cfg.ConnectTimeout = opt.Timeout
	}
	cfg.RuntimeParams["application_name"] = "sidecar doctor"
	replCfg := cfg.Config.Copy()
	replCfg.RuntimeParams["replication"] = "database"

	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	// The simple query protocol needs no session state, so the checklist reads the
	// database through a transaction pooler too, and says so (checkSession).
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %s", where(u), redact(errors.New(oneLine(err)), u))
	}
	defer conn.Close(context.Background())
	facts, err := inspect.Gather(ctx, conn, replCfg, opt.Slot, opt.Publication)
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", where(u), err)
	}
	return evaluate(facts, opt), nil
}

// where names the database without its password.
func where(u *url.URL) string {
	user := ""
	if u.User != nil {
		user = u.User.Username() + "@"
	}
	return user + u.Host + u.Path
}

// redact keeps a password out of messages built from driver errors.
func redact(err error, u *url.URL) string {
	msg := err.Error()
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// printReport writes the checklist, grouped by the mode each check serves, with the fix
// under each failure and warning, and ends with each mode's verdict and what the
// configuration selects.
func printReport(w io.Writer, opt Options, results []checkResult) {
	u, _ := url.Parse(opt.DatabaseURL)
	var pubs []string
	for _, p := range replication.Publications(opt.Publication) {
		pubs = append(pubs, p.Name)
	}
	fmt.Fprintf(w, "sidecar doctor: %s (slot %s, publications %s)\n", where(u), opt.Slot, strings.Join(pubs, " and "))
	width := 0
	for _, r := range results {
		width = max(width, len([]rune(r.Name)))
	}
	passed, warned := 0, 0
	for _, m := range []Mode{Both, Replication, WebhooksOnly} {
		heading := false
		for _, r := range results {
			if r.Mode != m {
				continue
			}
			if !heading {
				fmt.Fprintf(w, "\n%s\n", m)
				heading = true
			}
			mark := "✗"
			switch {
			case r.Warn:
				mark = "!"
				warned++
				passed++
			case r.OK:
				mark = "✓"
				passed++
			}
			fmt.Fprintf(w, "%s %-*s  %s\n", mark, width, r.Name, r.Detail)
			if (!r.OK || r.Warn) && r.Fix != "" {
				fmt.Fprintf(w, "  %*s  fix: %s\n", width, "", r.Fix)
			}
		}
	}
	fmt.Fprintf(w, "\n%d of %d checks passed", passed, len(results))
	if warned > 0 {
		fmt.Fprintf(w, " (%d with a warning)", warned)
	}
	fmt.Fprintf(w, "\n\n%s, this database allows:\n", withRole(u))
	for _, m := range []Mode{Replication, WebhooksOnly} {
		fmt.Fprintf(w, "  %s\n", verdictLine(results, m))
	}
	selected := "REPLICATION_ENABLED=true selects replication"
	if opt.WebhooksOnly {
		selected = "REPLICATION_ENABLED=false selects webhooks only"
	}
	if len(missingFor(results, opt.Mode())) == 0 {
		fmt.Fprintf(w, "%s: ready\n", selected)
	} else {
		fmt.Fprintf(w, "%s: not ready\n", selected)
	}
}

// verdictLine is one mode's line of the summary: "replication: ready", or "webhooks
// only: not available — missing: …".
func verdictLine(results []checkResult, m Mode) string {
	if missing := missingFor(results, m); len(missing) > 0 {
		return fmt.Sprintf("%s: not available — missing: %s", m, strings.Join(missing, ", "))
	}
	if warnings := warningsFor(results, m); len(warnings) > 0 {
		return fmt.Sprintf("%s: ready (warnings: %s)", m, strings.Join(warnings, ", "))
	}
	return fmt.Sprintf("%s: ready", m)
}

func withRole(u *url.URL) string {
	if u != nil && u.User != nil && u.User.Username() != "" {
		return "with role " + u.User.Username()
	}
	return "with this connection's role"
}

var migrationFile = regexp.MustCompile(`^([0-9]{14})_[A-Za-z0-9_-]+\.sql$`)

// MigrationsIn lists the versions of the migration files in dir, sorted, named the
// way the Supabase CLI reads them (<14-digit timestamp>_<name>.sql).
func MigrationsIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var out []string
	for _, e := range entries {
		if m := migrationFile.FindStringSubmatch(e.Name()); m != nil && !e.IsDir() {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no <timestamp>_<name>.sql files in %s", filepath.Clean(dir))
	}
	sort.Strings(out)
	return out, nil
}

var sizePattern = regexp.MustCompile(`^\s*([0-9]+)\s*([kKmMgGtT]?)[bB]?\s*$`)

// ParseBytes reads a size such as 0, 512kB, 64MB or 1GB (powers of 1024, like
// Postgres).
func ParseBytes(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 0, 64MB, 1GB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

// FormatBytes prints n in the largest unit that keeps it whole, or with one decimal.
func FormatBytes(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	for i := len(units) - 1; i > 0; i-- {
		size := int64(1) << (10 * i)
		if n >= size {
			if n%size == 0 {
				return fmt.Sprintf("%d%s", n/size, units[i])
			}
			return fmt.Sprintf("%.1f%s", float64(n)/float64(size), units[i])
		}
	}
	return fmt.Sprintf("%dB", n)
}
