package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/auditlog"
)

// auditCommand reads the local audit trail: show prints it as JSON lines
// from a sequence number on, verify checks the hash chain.
func auditCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "show" && args[0] != "verify") {
		fmt.Fprintln(stderr, "usage: rms-agent audit show|verify [--state-dir DIR] [--from SEQ]")
		return exitUsage
	}
	fs := flag.NewFlagSet("rms-agent audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", "/var/lib/rms-agent", "the agent's state directory")
	from := fs.Uint64("from", 1, "first sequence number to show")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	dir := filepath.Join(*stateDir, "audit")
	if args[0] == "show" {
		enc := json.NewEncoder(stdout)
		if err := auditlog.Read(dir, *from, func(e agent.AuditEvent) error { return enc.Encode(e) }); err != nil {
			fmt.Fprintln(stderr, "rms-agent:", err)
			return exitFailure
		}
		return exitOK
	}
	rep, err := auditlog.Verify(dir)
	if err != nil {
		fmt.Fprintln(stderr, "rms-agent:", err)
		return exitFailure
	}
	if rep.Break != nil {
		fmt.Fprintf(stderr, "audit trail broken at record %d (%s line %d): %s\n", rep.Break.Seq, rep.Break.File, rep.Break.Line, rep.Break.Reason)
		return exitFailure
	}
	fmt.Fprintf(stdout, "audit trail intact: %d records (seq %d..%d) in %d file(s)\n", rep.Checked, rep.FirstSeq, rep.LastSeq, rep.Files)
	return exitOK
}
