package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("rms-loadgen "+os.Args[1], flag.ExitOnError)
	var run func() error
	switch os.Args[1] {
	case "bench":
		c := benchFlags(fs)
		run = func() error { return bench(ctx, c, os.Stdout) }
	case "help", "-h", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "rms-loadgen: unknown mode %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	_ = fs.Parse(os.Args[2:])
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rms-loadgen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: rms-loadgen bench [flags]

  bench     pre-signed heartbeats from N devices as fast as the server answers

rms-loadgen bench -h lists its flags. For agent-like simulated devices, see
rms-agent simulate.
`)
}
