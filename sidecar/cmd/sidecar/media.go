package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/talent-onboarding/backend/sidecar/internal/mediaguard"
)

func init() {
	register("media", "inline media tools: `media scan` reports, `media migrate [--apply]` moves them to Storage", runMedia)
}

func runMedia(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mediaUsage(stderr)
		return 2
	}
	switch args[0] {
	case "scan":
		return mediaScan(ctx, args[1:], stdout, stderr)
	case "migrate":
		return mediaMigrate(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		mediaUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "sidecar media: unknown command %q\n", args[0])
	mediaUsage(stderr)
	return 2
}

func mediaUsage(w io.Writer) {
	fmt.Fprint(w, `usage:
  sidecar media scan [--database-url URL] [--json]
      Reports every inline media value (data: URI, base64 blob, non-Storage media URL)
      in talent_profiles and onboarding_progress: table, row id, column, path, size,
      guessed type. Exits 1 when any is found, 0 when none.
  sidecar media migrate [--apply] [--database-url URL] [--supabase-url URL] [--service-role-key KEY]
      Decodes each blob, uploads it to its Storage bucket as <user id>/<id>.<ext> with
      its content type and replaces the value with the object URL, one row per
      transaction. Without --apply it only prints what it would do. Resumable and safe
      to run twice (rows left clean are skipped; object ids derive from the content).

Flags default to the environment: DATABASE_URL, SUPABASE_URL (e.g.
https://<ref>.supabase.co, locally http://127.0.0.1:54321), SUPABASE_SERVICE_ROLE_KEY.
`)
}

func mediaScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("media scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "Postgres URL (env DATABASE_URL)")
	asJSON := fs.Bool("json", false, "one JSON object per finding")
	fs.Usage = func() { mediaUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dbURL == "" {
		fmt.Fprintln(stderr, "sidecar media scan: DATABASE_URL (or --database-url) is required")
		return 2
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar media scan: connecting: %v\n", err)
		return 2
	}
	defer pool.Close()
	base, err := mediaguard.StorageBaseURL(ctx, pool)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar media scan: %v\n", err)
		return 2
	}
	n := 0
	if !*asJSON {
		fmt.Fprintf(stdout, "%-20s %-36s %-20s %-40s %10s %-18s %s\n", "TABLE", "ROW", "COLUMN", "PATH", "SIZE", "TYPE", "REASON")
	}
	err = mediaguard.Scan(ctx, pool, mediaguard.New(base), func(f mediaguard.Finding) error {
		n++
		if *asJSON {
			b, _ := json.Marshal(f)
			fmt.Fprintln(stdout, string(b))
			return nil
		}
		typ := f.GuessedType
		if typ == "" {
			typ = "-"
		}
		_, err := fmt.Fprintf(stdout, "%-20s %-36s %-20s %-40s %10d %-18s %s\n", f.Table, f.RowID, f.Column, f.Path, f.Size, typ, f.Reason)
		return err
	})
	if err != nil {
		fmt.Fprintf(stderr, "sidecar media scan: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "%d offending value(s)\n", n)
	if n > 0 {
		return 1
	}
	return 0
}

func mediaMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("media migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "Postgres URL (env DATABASE_URL)")
	supaURL := fs.String("supabase-url", os.Getenv("SUPABASE_URL"), "Supabase project URL (env SUPABASE_URL)")
	key := fs.String("service-role-key", os.Getenv("SUPABASE_SERVICE_ROLE_KEY"), "service role key (env SUPABASE_SERVICE_ROLE_KEY)")
	apply := fs.Bool("apply", false, "upload and rewrite rows (default: dry run)")
	fs.Usage = func() { mediaUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dbURL == "" || (*apply && (*supaURL == "" || *key == "")) {
		fmt.Fprintln(stderr, "sidecar media migrate: DATABASE_URL is required, and with --apply SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY too")
		return 2
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar media migrate: connecting: %v\n", err)
		return 2
	}
	defer pool.Close()
	m := &mediaguard.Migrator{
		DB:       pool,
		Uploader: mediaguard.StorageUploader{SupabaseURL: *supaURL, ServiceRoleKey: *key},
		Apply:    *apply,
		Log:      slog.New(slog.NewTextHandler(stderr, nil)).With("component", "media migrate"),
		Out:      stdout,
	}
	rep, err := m.Run(ctx)
	mode := "dry run"
	if *apply {
		mode = "applied"
	}
	fmt.Fprintf(stderr, "%s: %d row(s), %d value(s) moved, %d left (see skip lines)\n", mode, rep.Rows, rep.Moved, rep.Skipped)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar media migrate: %v\n", err)
		return 1
	}
	if rep.Skipped > 0 {
		return 1
	}
	return 0
}
