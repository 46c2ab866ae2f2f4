// Command sidecar consumes committed changes of the talent database (logical
// replication and Supabase database webhooks) and turns them into the audit log,
// emails and media checks. With no arguments it runs the service; subcommands are
// operator tools (see `sidecar -h`).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/talent-onboarding/backend/sidecar/internal/config"
)

// subcommand is an operator tool run as `sidecar <name> [args]`. Files of this
// package register theirs in init(), so each lives beside its own flags.
type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var subcommands = map[string]subcommand{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	subcommands[name] = subcommand{summary: summary, run: run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve(ctx, stderr)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sidecar: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sidecar [command]")
	fmt.Fprintln(w, "\nWith no command, runs the sidecar service. Commands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(w, "\nEnvironment (name, default, meaning):")
	for _, v := range config.Vars() {
		def := v.Default
		if v.Required {
			def = "(required)"
		} else if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %-28s %-26s %s\n", v.Name, def, v.Help)
	}
	fmt.Fprintf(w, "  %-28s %-26d %s\n", "GOGC", defaultGOGC, "Go's garbage collector target (Go's own default is 100)")
	fmt.Fprintf(w, "  %-28s %-26s %s\n", "GOMEMLIMIT", "192MiB", "Go's soft memory limit (Go's own default is none)")
	fmt.Fprintf(w, "  %-28s %-26s %s\n", "SIDECAR_CPU_PROFILE", `""`, "write a CPU profile to this file until the sidecar stops (go tool pprof)")
}
