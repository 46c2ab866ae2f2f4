package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/talent-onboarding/backend/sidecar/internal/config"
	"github.com/talent-onboarding/backend/sidecar/internal/doctor"
)

func init() {
	register("doctor", "check the database for everything the sidecar needs and say which input modes it allows "+
		"(exit 0 when the one REPLICATION_ENABLED selects is ready)",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runDoctor(ctx, args, os.Getenv, stdout, stderr)
		})
}

// runDoctor is `sidecar doctor [flags]`: the sidecar's own variables (read from
// getenv, with the defaults config.Vars documents) supply the flags' defaults, so
// it checks what the service would run with; doctor.Check does the rest.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name string) string { return envOrDefault(getenv, name) }
	opt := doctor.Options{}
	fs.StringVar(&opt.DatabaseURL, "database-url", getenv("DATABASE_URL"), "database to check (default $DATABASE_URL)")
	fs.StringVar(&opt.Slot, "slot", env("REPLICATION_SLOT"), "replication slot name (default $REPLICATION_SLOT or the sidecar's default)")
	fs.StringVar(&opt.Publication, "publication", env("PUBLICATION"), "publication name; <name>_media is the second (default $PUBLICATION or the sidecar's default)")
	// Read as go-envconfig reads REPLICATION_ENABLED for the sidecar: strconv.ParseBool.
	replicationEnv := env("REPLICATION_ENABLED")
	replicationDefault, envErr := strconv.ParseBool(replicationEnv)
	replicationOn := fs.Bool("replication", replicationDefault,
		"the mode whose readiness sets the exit code: true for replication, false for webhooks only (default $REPLICATION_ENABLED or true)")
	maxLag := fs.String("max-lag", doctor.FormatBytes(doctor.DefaultMaxLag), "slot lag above which the lag check fails (e.g. 0, 64MB, 1GB)")
	dir := fs.String("migrations-dir", "", "read migration versions from this directory instead of the list built into the binary")
	fs.DurationVar(&opt.Timeout, "timeout", 20*time.Second, "time allowed for connecting and checking")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sidecar doctor [flags]\n\nChecks the database for everything the sidecar needs and says which input modes it allows;\n"+
			"exit 0 when the mode --replication selects is ready, 1 when it is not, 2 on bad input.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return doctor.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "doctor: unexpected argument %q\n", fs.Arg(0))
		return doctor.ExitUsage
	}
	explicit := false
	fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "replication" })
	if envErr != nil && !explicit {
		fmt.Fprintf(stderr, "doctor: REPLICATION_ENABLED=%q is not true or false\n", replicationEnv)
		return doctor.ExitUsage
	}
	opt.WebhooksOnly = !*replicationOn
	var err error
	if opt.MaxLagBytes, err = doctor.ParseBytes(*maxLag); err != nil {
		fmt.Fprintf(stderr, "doctor: --max-lag: %v\n", err)
		return doctor.ExitUsage
	}
	opt.Migrations = doctor.EmbeddedMigrations
	if *dir != "" {
		if opt.Migrations, err = doctor.MigrationsIn(*dir); err != nil {
			fmt.Fprintf(stderr, "doctor: --migrations-dir: %v\n", err)
			return doctor.ExitUsage
		}
	}
	return doctor.Check(ctx, opt, stdout, stderr)
}

// envOrDefault is what the sidecar would read for the variable name: its value in
// the environment, or the default config.Vars documents for it.
func envOrDefault(getenv func(string) string, name string) string {
	if v := getenv(name); v != "" {
		return v
	}
	for _, v := range config.Vars() {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}
