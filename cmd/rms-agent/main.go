package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "simulate":
			return report(stderr, simulate(ctx, args[1:], stdout, stderr))
		case "audit":
			return auditCommand(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			usage(stdout)
			return exitOK
		}
	}
	return report(stderr, agentMain(ctx, args, stdout, stderr))
}

// usageError is a mistake in the command line or configuration.
type usageError struct{ error }

func report(stderr io.Writer, err error) int {
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u):
		fmt.Fprintln(stderr, "rms-agent:", err)
		return exitUsage
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	default:
		fmt.Fprintln(stderr, "rms-agent:", err)
		return exitFailure
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  rms-agent --config FILE                       run as configured (see deploy/agent.example.yaml)
  rms-agent --server URL --ca CA --server-cert S --cert C --key K --state-dir DIR
            [--adapter simulator|exec|file] [--interval 60s] [--proxy P]
                                                one device without a config file
  rms-agent simulate --devices N --server URL --pki DIR [--interval 10s]
                                                N simulated devices in one process
  rms-agent audit show|verify [--state-dir DIR] the local audit trail
`)
}
