package main

import (
	"context"
	"flag"
	"fmt"
	"html"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/talent-onboarding/backend/sidecar/internal/email"
)

func init() {
	register("email", "email tools: `email preview <template> [--profile <id>] [--out file.html]`", runEmail)
}

func runEmail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "preview" {
		fmt.Fprintln(stderr, "usage: sidecar email preview <template> [--profile <id>] [--out file.html]")
		fmt.Fprintf(stderr, "templates: %v\nvariables: .%v\n", email.TemplateNames, email.VarNames())
		return 2
	}
	return emailPreview(ctx, args[1:], stdout, stderr)
}

// emailPreview renders a template from the database (DATABASE_URL) as HTML, with a
// talent's data (--profile) or sample data, to stdout or --out.
func emailPreview(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("email preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "", "talent profile id whose data fills the variables (default: sample data)")
	out := fs.String("out", "", "write the HTML to this file (default: stdout)")
	// Accept the template name before or after the flags.
	var name string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fmt.Fprintf(stderr, "sidecar email preview: name a template, one of %v\n", email.TemplateNames)
		return 2
	}
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		fmt.Fprintln(stderr, "sidecar email preview: DATABASE_URL is required (templates live in the database; `make db` prints one)")
		return 2
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar email preview: connecting: %v\n", err)
		return 1
	}
	defer pool.Close()
	r, err := email.Preview(ctx, pool, name, *profile)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar email preview: %v\n", err)
		return 1
	}
	page := fmt.Sprintf("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body style=\"margin:0;background:#f4f5f7\">\n%s\n</body></html>\n",
		htmlEscape(r.Subject), r.HTML)
	if *out == "" {
		_, _ = io.WriteString(stdout, page)
		return 0
	}
	if err := os.WriteFile(*out, []byte(page), 0o644); err != nil {
		fmt.Fprintf(stderr, "sidecar email preview: writing %s: %v\n", *out, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (subject: %s)\n", *out, r.Subject)
	return 0
}

func htmlEscape(s string) string { return html.EscapeString(s) }
