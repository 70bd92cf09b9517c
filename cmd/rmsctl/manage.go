package main

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/hooklift/gowsdl/soap"
	"golang.org/x/term"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec/pki"
)

// managePath is where rms-server serves the ManagementService, below the
// base URL an operator knows (the one the console runs on).
const managePath = "/soap/manage"

// connectionHelp is appended to every remote verb's usage, so each one
// documents where its connection settings come from.
const connectionHelp = "Connection: --server (or RMS_SERVER) is the server's base URL, e.g.\n" +
	"https://rms.example.com:8443; --ca (or RMS_CA) the PEM CA that issued its\n" +
	"certificate (default: the system roots); --user (or RMS_USER, default admin).\n" +
	"The password comes from RMS_PASSWORD, else a prompt on the terminal, else\n" +
	"the first line of stdin."

// remoteVerb is a leaf that talks to the ManagementService. Every such verb
// gets the same connection flags and fault handling from command(); the
// verb itself only declares its own flags and says what to call.
type remoteVerb struct {
	name, summary, synopsis, details string
	// raw marks a verb that writes data rather than records, so it has no
	// --json.
	raw bool
	// setup declares the verb's own flags and returns prepare.
	setup func(fs *flag.FlagSet) prepare
}

// prepare checks the positional arguments and flag values and returns the
// call to make. It runs before any connection is made, so a mistake is a
// usage error (return one made by usagef) and never costs a round trip.
type prepare func(args []string) (call, error)

// byID is the setup of a verb that takes one ID argument and no flags of
// its own.
func byID(do func(ctx context.Context, s *session, id string) error) func(*flag.FlagSet) prepare {
	return func(*flag.FlagSet) prepare {
		return func(args []string) (call, error) {
			if err := wantArgs(args, "ID"); err != nil {
				return nil, err
			}
			return func(ctx context.Context, s *session) error { return do(ctx, s, args[0]) }, nil
		}
	}
}

// call does the verb's work with a connected session.
type call func(ctx context.Context, s *session) error

// session is what a remote verb's call works with.
type session struct {
	m      *soapclient.Management
	stdout io.Writer
	stderr io.Writer
	json   bool
}

// usageErr is a mistake on the command line: exit 2 and the usage.
type usageErr struct{ msg string }

func (u *usageErr) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageErr{fmt.Sprintf(format, args...)}
}

// command builds the leaf under group (its name prefixes messages).
func (v remoteVerb) command(group string) *command {
	synopsis := v.synopsis + " [--server URL] [--ca FILE] [--user NAME]"
	if !v.raw {
		synopsis += " [--json]"
	}
	details := connectionHelp
	if v.details != "" {
		details = v.details + "\n\n" + connectionHelp
	}
	return &command{
		name: v.name, summary: v.summary, synopsis: synopsis, details: details,
		flags: func(fs *flag.FlagSet) func(*env, []string) int {
			conn := addConnectionFlags(fs)
			asJSON := new(bool)
			if !v.raw {
				fs.BoolVar(asJSON, "json", false, "print JSON instead of a table")
			}
			prep := v.setup(fs)
			return func(e *env, args []string) int {
				me := "rmsctl " + group + " " + v.name
				do, err := prep(args)
				if err != nil {
					return report(e, me, err)
				}
				m, err := conn.connect(e)
				if err != nil {
					return report(e, me, err)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return report(e, me, do(ctx, &session{m: m, stdout: e.stdout, stderr: e.stderr, json: *asJSON}))
			}
		},
	}
}

// report turns a verb's error into its message and exit status. A fault
// is the server's verdict and shown as it gave it; anything else is ours
// or the network's and names the verb.
func report(e *env, me string, err error) int {
	var (
		usage *usageErr
		fault *soapclient.Fault
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "%s: %s\n", me, usage.msg)
		return exitUsage
	case errors.As(err, &fault):
		code, msg := fault.Code, fault.Message
		if code == "" {
			// A fault without a typed detail: a balancer or a crashed
			// replica; its faultcode is all there is.
			code = fault.FaultCode
		}
		if msg == "" {
			msg = fault.FaultString
		}
		fmt.Fprintf(e.stderr, "rmsctl: %s: %s\n", code, msg)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
	return exitFailure
}

// connectionFlags are the management connection settings of one leaf.
// They are declared per leaf (not before the verb) so that they may be
// given anywhere after it, like every other flag.
type connectionFlags struct {
	server, ca, user *string
}

func addConnectionFlags(fs *flag.FlagSet) *connectionFlags {
	return &connectionFlags{
		server: fs.String("server", "", "server base `URL`, e.g. https://localhost:8443 (or RMS_SERVER)"),
		ca:     fs.String("ca", "", "PEM `file` of the CA that issued the server certificate (or RMS_CA; default the system roots)"),
		user:   fs.String("user", "", "user `name` (or RMS_USER; default admin)"),
	}
}

// connect resolves the settings (flag, then environment, then default),
// reads the password and returns a client. Nothing is sent yet.
func (c *connectionFlags) connect(e *env) (*soapclient.Management, error) {
	base := firstSet(*c.server, e.getenv("RMS_SERVER"))
	if base == "" {
		return nil, usagef("--server (or RMS_SERVER) is required")
	}
	endpoint, err := manageURL(base)
	if err != nil {
		return nil, err
	}
	user := firstSet(*c.user, e.getenv("RMS_USER"), "admin")
	cfg := soapclient.ManagementConfig{Config: soapclient.Config{URL: endpoint}, Username: user}
	if caPath := firstSet(*c.ca, e.getenv("RMS_CA")); caPath != "" {
		if cfg.RootCAs, _, err = pki.LoadPool(caPath); err != nil {
			return nil, err
		}
	}
	if cfg.Password, err = password(e, user); err != nil {
		return nil, err
	}
	return soapclient.NewManagement(cfg)
}

// manageURL checks a base URL and appends the management path; a URL that
// already names the endpoint is taken as it is.
func manageURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.Scheme != "https" || u.RawQuery != "" || u.Fragment != "" {
		// Plain HTTP is refused: the password travels in the message.
		return "", usagef("--server %q: want an https:// base URL such as https://localhost:8443", base)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, managePath) {
		p += managePath
	}
	u.Path = p
	return u.String(), nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxPasswordLine bounds what is read of stdin for a password, so a
// mistaken pipe of a large file is not slurped.
const maxPasswordLine = 4096

// password reads the password: from RMS_PASSWORD (scripts), a prompt on
// the terminal without echo (people), or the first line of stdin (pipes
// from a secret store).
func password(e *env, user string) (string, error) {
	if p, ok := e.lookupEnv("RMS_PASSWORD"); ok {
		return p, nil
	}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "Password for %s: ", user)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(p), nil
	}
	line, err := bufio.NewReaderSize(io.LimitReader(e.stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("no password: set RMS_PASSWORD, run on a terminal, or give it on the first line of stdin")
	}
	return line, nil
}

// --- flag values ---
//
// Bad values fail in flag parsing, so they are usage errors that name the
// flag, before any connection is made.

// enumValue is a flag restricted to the values of a schema enumeration;
// unset it is nil, so the request leaves the element out.
type enumValue[T ~string] struct {
	val     *T
	allowed []T
}

func enumFlag[T ~string](fs *flag.FlagSet, name, usage string, allowed ...T) *enumValue[T] {
	v := &enumValue[T]{allowed: allowed}
	fs.Var(v, name, usage+": "+v.choices())
	return v
}

func (v *enumValue[T]) choices() string {
	s := make([]string, len(v.allowed))
	for i, a := range v.allowed {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

func (v *enumValue[T]) String() string {
	if v == nil || v.val == nil {
		return ""
	}
	return string(*v.val)
}

func (v *enumValue[T]) Set(s string) error {
	if !slices.Contains(v.allowed, T(s)) {
		return fmt.Errorf("want one of %s", v.choices())
	}
	t := T(s)
	v.val = &t
	return nil
}

// timeValue is an RFC 3339 time flag; unset it is the zero DateTime,
// which the generated types leave out.
type timeValue struct{ t time.Time }

func timeFlag(fs *flag.FlagSet, name, usage string) *timeValue {
	v := &timeValue{}
	fs.Var(v, name, usage+" (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	return v
}

func (v *timeValue) String() string {
	if v == nil || v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	v.t = t
	return nil
}

func (v *timeValue) xsd() soap.XSDDateTime { return soapclient.NewDateTime(v.t) }

// checkRange is the usage error for a --from later than its --to, which
// the server would answer with an empty list and no hint why.
func checkRange(from, to *timeValue) error {
	if !from.t.IsZero() && !to.t.IsZero() && from.t.After(to.t) {
		return usagef("--from %s is after --to %s", from, to)
	}
	return nil
}

// limitValue is a page size: 1..server.MaxPageSize, or unset (0) for the
// server's default.
type limitValue int32

func (l *limitValue) String() string { return strconv.Itoa(int(*l)) }

func (l *limitValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > server.MaxPageSize {
		return fmt.Errorf("want a number from 1 to %d", server.MaxPageSize)
	}
	*l = limitValue(n)
	return nil
}

// --- arguments ---

// wantArgs checks the number of positional arguments against their names.
func wantArgs(args []string, names ...string) error {
	switch {
	case len(args) < len(names):
		return usagef("missing %s", strings.Join(names[len(args):], " and "))
	case len(args) > len(names):
		return usagef("unexpected argument %q", args[len(names)])
	}
	for i, a := range args {
		if strings.TrimSpace(a) == "" {
			return usagef("%s must not be empty", names[i])
		}
	}
	return nil
}

// --- listing ---

// paging is the page flags every listing verb shares.
type paging struct {
	limit limitValue
	token string
	all   bool
}

func addPaging(fs *flag.FlagSet) *paging {
	p := &paging{}
	fs.Var(&p.limit, "limit", fmt.Sprintf("`number` of results per page, 1-%d (default: the server's, %d)", server.MaxPageSize, server.DefaultPageSize))
	fs.StringVar(&p.token, "page-token", "", "continue a listing from this `token`")
	fs.BoolVar(&p.all, "all", false, "follow page tokens and list everything")
	return p
}

// columns is how a listing prints one kind of item as a table.
type columns[T any] struct {
	header []string
	row    func(T) []string
}

// list runs a paged listing: one page, or with --all every page, printed
// as one table or one JSON object {"items": [...], "nextPageToken": ...}.
// fetch asks for the page at token.
func list[T any](ctx context.Context, s *session, p *paging, cols columns[T], fetch func(ctx context.Context, token string) ([]T, string, error)) error {
	var items []T
	token := p.token
	seen := map[string]bool{}
	for {
		page, next, err := fetch(ctx, token)
		if err != nil {
			return err
		}
		items = append(items, page...)
		token = next
		if !p.all || next == "" {
			break
		}
		// A server that hands out the same token twice would keep us
		// here forever.
		if seen[next] {
			return fmt.Errorf("the server repeated page token %q", next)
		}
		seen[next] = true
	}
	if s.json {
		out := map[string]any{"items": jsonList(items)}
		if token != "" {
			out["nextPageToken"] = token
		}
		if err := writeJSON(s.stdout, out); err != nil {
			return err
		}
	} else {
		rows := make([][]string, len(items))
		for i, it := range items {
			rows[i] = cols.row(it)
		}
		if err := writeTable(s.stdout, cols.header, rows); err != nil {
			return err
		}
	}
	if token != "" {
		// On stderr, so a table or JSON on stdout stays clean for pipes.
		fmt.Fprintf(s.stderr, "more results: repeat with --page-token %s, or use --all\n", token)
	}
	return nil
}

// show prints one record: fields as "name: value" lines, then any
// sections (metrics, parameters) as tables; or the record as JSON.
func (s *session) show(record any, fields [][2]string, sections ...section) error {
	if s.json {
		return writeJSON(s.stdout, jsonValue(reflect.ValueOf(record)))
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], cell(f[1]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, sec := range sections {
		if len(sec.rows) == 0 {
			continue
		}
		fmt.Fprintf(s.stdout, "\n%s:\n", sec.title)
		if err := writeTable(s.stdout, sec.header, sec.rows); err != nil {
			return err
		}
	}
	return nil
}

// section is a titled table under a record.
type section struct {
	title  string
	header []string
	rows   [][]string
}

func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// maxCell bounds a table cell; the full text is in --json.
const maxCell = 60

// cell makes device- and user-supplied text fit one table cell: control
// characters (tabs, newlines, terminal escapes) would break the layout or
// the terminal, so they become spaces; empty is shown as "-".
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > maxCell {
		return string(r[:maxCell-1]) + "…"
	}
	return s
}

// when formats a schema time for a table: UTC, to the second.
func when(t soap.XSDDateTime) string {
	if g := t.ToGoTime(); !g.IsZero() {
		return g.UTC().Format(time.RFC3339)
	}
	return ""
}

// str is an optional enumeration's text.
func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// --- JSON ---
//
// The generated types carry json tags, but encoding/json would write their
// xsd:dateTime fields as {} (the time is unexported), so values are first
// turned into plain maps and lists with times as RFC 3339 strings.

var (
	xsdTimeType = reflect.TypeFor[soap.XSDDateTime]()
	xmlNameType = reflect.TypeFor[xml.Name]()
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func jsonList[T any](items []T) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = jsonValue(reflect.ValueOf(it))
	}
	return out
}

// jsonValue converts v following its json tags (name, omitempty).
func jsonValue(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch {
	case v.Type() == xsdTimeType:
		t := v.Interface().(soap.XSDDateTime)
		if w := when(t); w != "" {
			return w
		}
		return nil
	case v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case v.Kind() == reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Type == xmlNameType {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && (fv.IsZero() || (fv.Kind() == reflect.Slice && fv.Len() == 0)) {
				continue
			}
			out[name] = jsonValue(fv)
		}
		return out
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
