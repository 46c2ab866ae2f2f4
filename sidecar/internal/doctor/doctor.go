// Package doctor checks a target database for everything the sidecar needs —
// logical WAL, slots and WAL senders to spare, a role allowed to replicate, the
// publication and replica identities, the migrations, and the slot's health — and
// prints a checklist that says how to fix each failure. Ops run it before the first
// deploy and whenever replication misbehaves (`sidecar doctor`).
package doctor

import (
	"context"
	"errors"
	"flag"
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
)

// Exit codes of Main.
const (
	ExitOK      = 0 // every check passed
	ExitFailed  = 1 // at least one check failed
	ExitUsage   = 2 // bad flags or URL, or the database could not be reached
	defaultName = "talent_sidecar"
)

// DefaultMaxLag is the slot lag above which the lag check fails.
const DefaultMaxLag int64 = 256 << 20

// Options say what to check. Slot and Publication default to the sidecar's own
// defaults (REPLICATION_SLOT, PUBLICATION); Migrations to the versions built in.
type Options struct {
	DatabaseURL string
	Slot        string
	Publication string
	MaxLagBytes int64
	Migrations  []string
	Timeout     time.Duration
}

var namePattern = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// viaPooler reports whether the URL looks like Supabase's pooler (Supavisor),
// which cannot carry a replication connection.
func (o Options) viaPooler() bool {
	u, err := url.Parse(o.DatabaseURL)
	if err != nil {
		return false
	}
	return u.Port() == "6543" || strings.HasSuffix(u.Hostname(), ".pooler.supabase.com")
}

// Main is `sidecar doctor [flags]`: it parses args (environment variables supply
// the defaults), runs the checks and prints the checklist to stdout.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	opt := Options{}
	fs.StringVar(&opt.DatabaseURL, "database-url", getenv("DATABASE_URL"), "database to check (default $DATABASE_URL)")
	fs.StringVar(&opt.Slot, "slot", env("REPLICATION_SLOT", defaultName), "replication slot name (default $REPLICATION_SLOT or talent_sidecar)")
	fs.StringVar(&opt.Publication, "publication", env("PUBLICATION", defaultName), "publication name (default $PUBLICATION or talent_sidecar)")
	maxLag := fs.String("max-lag", FormatBytes(DefaultMaxLag), "slot lag above which the lag check fails (e.g. 0, 64MB, 1GB)")
	dir := fs.String("migrations-dir", "", "read migration versions from this directory instead of the list built into the binary")
	fs.DurationVar(&opt.Timeout, "timeout", 20*time.Second, "time allowed for connecting and checking")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sidecar doctor [flags]\n\nChecks the database for everything the sidecar needs; exit 0 when all pass, 1 when a check fails, 2 on bad input.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "doctor: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	var err error
	if opt.MaxLagBytes, err = ParseBytes(*maxLag); err != nil {
		fmt.Fprintf(stderr, "doctor: --max-lag: %v\n", err)
		return ExitUsage
	}
	opt.Migrations = EmbeddedMigrations
	if *dir != "" {
		if opt.Migrations, err = MigrationsIn(*dir); err != nil {
			fmt.Fprintf(stderr, "doctor: --migrations-dir: %v\n", err)
			return ExitUsage
		}
	}
	results, err := Run(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "doctor: %v\n", err)
		return ExitUsage
	}
	Print(stdout, opt, results)
	for _, r := range results {
		if !r.OK {
			return ExitFailed
		}
	}
	return ExitOK
}

// ErrInput marks errors caused by the caller's input (flags, URL), as opposed to
// an unreachable database; both end with ExitUsage.
var ErrInput = errors.New("invalid input")

// Run validates opt, connects and evaluates every check. An error means nothing
// could be checked (bad input or no connection); failed checks are results.
func Run(ctx context.Context, opt Options) ([]Result, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 20 * time.Second
	}
	if opt.DatabaseURL == "" {
		return nil, fmt.Errorf("%w: no database: set DATABASE_URL or pass --database-url", ErrInput)
	}
	u, err := url.Parse(opt.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("%w: database URL must look like postgresql://user:password@host:5432/postgres", ErrInput)
	}
	for flagName, v := range map[string]string{"slot": opt.Slot, "publication": opt.Publication} {
		if !namePattern.MatchString(v) {
			return nil, fmt.Errorf("%w: --%s must be 1-63 characters of a-z, 0-9 and _, got %q", ErrInput, flagName, v)
		}
	}
	cfg, err := pgx.ParseConfig(opt.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing database URL: %v", ErrInput, redact(err, u))
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > opt.Timeout {
		cfg.ConnectTimeout = opt.Timeout
	}
	cfg.RuntimeParams["application_name"] = "sidecar doctor"
	replCfg := cfg.Config.Copy()
	replCfg.RuntimeParams["replication"] = "database"

	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %s", where(u), redact(errors.New(oneLine(err)), u))
	}
	defer conn.Close(context.Background())
	facts, err := Gather(ctx, conn, replCfg, opt)
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", where(u), err)
	}
	return Evaluate(facts, opt), nil
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

// Print writes the checklist: one line per check, the fix under each failure.
func Print(w io.Writer, opt Options, results []Result) {
	u, _ := url.Parse(opt.DatabaseURL)
	fmt.Fprintf(w, "sidecar doctor: %s (slot %s, publication %s)\n\n", where(u), opt.Slot, opt.Publication)
	width := 0
	for _, r := range results {
		width = max(width, len([]rune(r.Name)))
	}
	passed := 0
	for _, r := range results {
		mark := "✗"
		if r.OK {
			mark = "✓"
			passed++
		}
		fmt.Fprintf(w, "%s %-*s  %s\n", mark, width, r.Name, r.Detail)
		if !r.OK && r.Fix != "" {
			fmt.Fprintf(w, "  %*s  fix: %s\n", width, "", r.Fix)
		}
	}
	fmt.Fprintf(w, "\n%d of %d checks passed\n", passed, len(results))
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
