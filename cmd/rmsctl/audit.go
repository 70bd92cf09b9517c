package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server/auditlog"
	"github.com/rmsproject/rms/server/sqlstore"
)

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "Query the server's audit trail and verify its hash chain",
		subs:    []*command{auditQueryVerb().command("audit"), auditVerifyCommand()},
	}
}

var auditColumns = columns[*management.AuditRecord]{
	header: []string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAIL"},
	row: func(r *management.AuditRecord) []string {
		return []string{strconv.FormatInt(r.Sequence, 10), when(r.Time), r.Actor, r.Action, r.Target, str(r.Outcome), r.Detail}
	},
}

func auditQueryVerb() remoteVerb {
	return remoteVerb{
		name:     "query",
		summary:  "List server audit records",
		synopsis: "[--from TIME] [--to TIME] [--actor A] [--action A] [--target T] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			from := timeFlag(fs, "from", "only records at or after this `time`")
			to := timeFlag(fs, "to", "only records before this `time`")
			actor := fs.String("actor", "", "only records of this `actor`, e.g. user:admin or device:dev-0001")
			action := fs.String("action", "", "only records of this `action`, e.g. manage.QueueInstruction")
			target := fs.String("target", "", "only records about this `target` (device, alarm, instruction id)")
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args); err != nil {
					return nil, err
				}
				if err := checkRange(from, to); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, auditColumns, func(ctx context.Context, token string) ([]*management.AuditRecord, string, error) {
						r, err := s.m.QueryAudit(ctx, &management.QueryAudit{From: from.xsd(), To: to.xsd(), Actor: *actor,
							Action: *action, Target: *target, Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Record, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

// auditVerifyCommand reads the store itself rather than asking the server:
// the point is to check the chain without trusting the server that wrote
// it, and to be able to do so while it is down.
func auditVerifyCommand() *command {
	return &command{
		name:     "verify",
		summary:  "Verify the audit hash chain directly in the server's store",
		synopsis: "--db URL",
		details: "URL is the server's --db: sqlite:PATH or postgres://… (or RMS_DB).\n" +
			"Prints 'audit chain intact: N records' and exits 0, or\n" +
			"'audit chain broken at record SEQ: REASON' on stderr and exits 1.\n" +
			"Opening the store applies any schema migrations it lacks, as the server would.",
		flags: func(fs *flag.FlagSet) func(*env, []string) int {
			db := fs.String("db", "", "store `URL`: sqlite:PATH or postgres://… (or RMS_DB)")
			return func(e *env, args []string) int {
				const me = "rmsctl audit verify"
				if err := wantArgs(args); err != nil {
					return report(e, me, err)
				}
				url := firstSet(*db, e.getenv("RMS_DB"))
				if url == "" {
					return report(e, me, usagef("--db (or RMS_DB) is required"))
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				rep, err := verifyAudit(ctx, url)
				if err != nil {
					return report(e, me, err)
				}
				if rep.Break != nil {
					fmt.Fprintf(e.stderr, "audit chain broken at record %d: %s\n", rep.Break.Sequence, rep.Break.Reason)
					return exitFailure
				}
				fmt.Fprintf(e.stdout, "audit chain intact: %d records\n", rep.Checked)
				return exitOK
			}
		},
	}
}

func verifyAudit(ctx context.Context, url string) (auditlog.Report, error) {
	// sqlstore.Open would create a missing SQLite file, and an empty new
	// store verifies as intact: a typo must not read as a clean bill.
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok && path != ":memory:" {
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return auditlog.Report{}, fmt.Errorf("no database at %s", path)
			}
			return auditlog.Report{}, err
		}
	}
	store, err := sqlstore.Open(ctx, sqlstore.Config{URL: url})
	if err != nil {
		return auditlog.Report{}, err
	}
	defer store.Close()
	return auditlog.Verify(ctx, store)
}
