package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is what a command may touch: its streams and the environment.
// Commands never reach for os.Stdin/os.Stdout/os.Getenv directly, so the
// dispatch logic stays testable.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(key string) (string, bool)
}

func (e *env) getenv(key string) string {
	v, _ := e.lookupEnv(key)
	return v
}

// command is one verb: either a leaf with run, or a group with subs.
type command struct {
	name    string
	summary string
	// synopsis is the argument part of the usage line (after the verb path).
	synopsis string
	// details, if set, is printed after the summary in the usage.
	details string
	// flags declares the leaf's flags on fs and returns the action to run
	// once they are parsed; args are the positional arguments left over.
	flags func(fs *flag.FlagSet) func(e *env, args []string) int
	subs  []*command
}

// commands is the dispatch table. Add a verb here and in its own file.
func commands() []*command {
	return []*command{pkiCommand(), envelopeCommand(),
		devicesCommand(), alarmsCommand(), instructionsCommand(), uploadsCommand(), auditCommand()}
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}))
}

// run dispatches args and returns the exit status.
func run(args []string, e *env) int {
	root := &command{name: "rmsctl", summary: "RMS command-line tool", subs: commands()}
	if len(args) == 0 {
		fmt.Fprint(e.stderr, "rmsctl: missing command\n\n")
		printGroupUsage(e.stderr, []string{"rmsctl"}, root)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(e, root, args[1:])
	}
	return dispatch(e, []string{"rmsctl"}, root, args)
}

// dispatch walks groups down to a leaf and runs it.
func dispatch(e *env, path []string, group *command, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "%s: missing sub-command\n\n", strings.Join(path, " "))
		printGroupUsage(e.stderr, path, group)
		return exitUsage
	}
	if isHelpFlag(args[0]) {
		printGroupUsage(e.stdout, path, group)
		return exitOK
	}
	sub := find(group, args[0])
	if sub == nil {
		fmt.Fprintf(e.stderr, "%s: unknown command %q\n\n", strings.Join(path, " "), args[0])
		printGroupUsage(e.stderr, path, group)
		return exitUsage
	}
	path = append(path, sub.name)
	if sub.subs != nil {
		return dispatch(e, path, sub, args[1:])
	}
	return runLeaf(e, path, sub, args[1:])
}

func runLeaf(e *env, path []string, c *command, args []string) int {
	name := strings.Join(path, " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// flag would print its own error and usage; we print ours, to the
	// right stream for help (stdout) or a mistake (stderr).
	fs.SetOutput(io.Discard)
	action := c.flags(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printLeafUsage(e.stdout, path, c, fs)
			return exitOK
		}
		return usageError(e, path, c, fs, err.Error())
	}
	status := action(e, positional)
	if status == exitUsage {
		fmt.Fprintln(e.stderr)
		printLeafUsage(e.stderr, path, c, fs)
	}
	return status
}

// parseInterspersed parses flags wherever they stand, so operators may type
// them after the arguments ("devices show ID --json"), which package flag
// alone would take as more arguments. "--" ends the flags: what follows is
// positional even if it starts with "-".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageError reports a mistake in the command line and the usage.
func usageError(e *env, path []string, c *command, fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(e.stderr, "%s: %s\n\n", strings.Join(path, " "), msg)
	printLeafUsage(e.stderr, path, c, fs)
	return exitUsage
}

// help implements "rmsctl help [verb [sub-verb]]".
func help(e *env, root *command, args []string) int {
	path := []string{"rmsctl"}
	c := root
	for _, a := range args {
		if c.subs == nil {
			break
		}
		sub := find(c, a)
		if sub == nil {
			fmt.Fprintf(e.stderr, "rmsctl help: unknown command %q\n\n", strings.Join(append(path[1:], a), " "))
			printGroupUsage(e.stderr, path, c)
			return exitUsage
		}
		c = sub
		path = append(path, sub.name)
	}
	if c.subs != nil {
		printGroupUsage(e.stdout, path, c)
		return exitOK
	}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	c.flags(fs)
	printLeafUsage(e.stdout, path, c, fs)
	return exitOK
}

func find(group *command, name string) *command {
	for _, s := range group.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func isHelpFlag(a string) bool {
	return a == "-h" || a == "-help" || a == "--help" || a == "help"
}

func printGroupUsage(w io.Writer, path []string, group *command) {
	name := strings.Join(path, " ")
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n", name)
	if len(path) > 1 {
		fmt.Fprintf(w, "%s.\n\n", group.summary)
	}
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range group.subs {
		if s.subs == nil {
			fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
			continue
		}
		for _, ss := range s.subs {
			fmt.Fprintf(tw, "  %s %s\t%s\n", s.name, ss.name, ss.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags.\n", name)
	if len(path) == 1 {
		fmt.Fprintln(w, "Exit status: 0 success, 1 failure, 2 usage error.")
	}
}

func printLeafUsage(w io.Writer, path []string, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s.\n", strings.Join(path, " "), c.synopsis, c.summary)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", c.details)
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if !hasFlags {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if kind != "" {
			arg += " " + kind
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
	})
	tw.Flush()
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
