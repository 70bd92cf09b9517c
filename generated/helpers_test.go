package generated_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/rmsproject/rms/fixtures"
)

const soapEnvNS = "http://schemas.xmlsoap.org/soap/envelope/"

// repoPath is an absolute path inside the repository.
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{fixtures.RepoRoot}, elem...)...)
}

// schemaPath returns the XSD of a service ("device" or "management").
func schemaPath(service string) string {
	return repoPath("xsd", service+".xsd")
}

// validate runs xmllint --schema on doc and returns its combined output;
// err is non-nil when xmllint rejects the document.
func validate(xmllint, service string, doc []byte) (string, error) {
	cmd := exec.Command(xmllint, "--noout", "--nonet", "--schema", schemaPath(service), "-")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func ptr[T any](v T) *T { return &v }

// at parses an RFC 3339 time into the gowsdl dateTime type.
func at(s string) soap.XSDDateTime {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return soap.CreateXsdDateTime(t, true)
}

// envelope is what bodyChild learns about a SOAP 1.1 envelope.
type envelope struct {
	child       []byte // the Body child, with in-scope namespace declarations copied onto it
	rawChild    []byte // the Body child exactly as it appears in the envelope
	childName   xml.Name
	headerEmpty bool // Header absent or without children
	comments    int  // comments inside the Envelope
}

// bodyChild extracts the single child of the SOAP 1.1 Body as a standalone
// document. Namespace declarations made on Envelope or Body are copied onto
// the child so that prefixes declared there still resolve.
func bodyChild(doc []byte) (*envelope, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var (
		env      = &envelope{headerEmpty: true}
		depth    int
		inBody   bool
		inHeader bool
		inherit  = map[string]string{} // attribute name (xmlns or xmlns:p) -> URI
	)
	for {
		off := dec.InputOffset()
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.Comment:
			if depth > 0 {
				env.comments++
			}
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if t.Name.Local != "Envelope" {
					return nil, fmt.Errorf("root is %s, not Envelope", t.Name.Local)
				}
				collectNS(t, inherit)
				if ns := inherit[nsAttr(t.Name.Space)]; ns != soapEnvNS {
					return nil, fmt.Errorf("Envelope namespace is %q, not SOAP 1.1", ns)
				}
			case depth == 2 && t.Name.Local == "Header":
				inHeader = true
			case depth == 2 && t.Name.Local == "Body":
				inBody = true
				collectNS(t, inherit)
			case depth == 3 && inHeader:
				env.headerEmpty = false
			case depth == 3 && inBody:
				if env.child != nil {
					return nil, errors.New("Body has more than one child")
				}
				start := int(off)
				if err := skip(dec); err != nil {
					return nil, err
				}
				depth--
				raw := doc[start:int(dec.InputOffset())]
				env.rawChild = raw
				env.child = withNS(raw, t, inherit)
				env.childName = t.Name
			}
		case xml.EndElement:
			if depth == 2 {
				inBody, inHeader = false, false
			}
			depth--
		}
	}
	if env.child == nil {
		return nil, errors.New("no Body child")
	}
	// Resolve the child's QName properly now that the raw tokens are consumed.
	var probe struct{ XMLName xml.Name }
	if err := xml.Unmarshal(env.child, &probe); err != nil {
		return nil, err
	}
	env.childName = probe.XMLName
	return env, nil
}

// skip consumes tokens up to the end of the element just started.
func skip(dec *xml.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.RawToken()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

func collectNS(t xml.StartElement, into map[string]string) {
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			into["xmlns"] = a.Value
		case a.Name.Space == "xmlns":
			into["xmlns:"+a.Name.Local] = a.Value
		}
	}
}

// nsAttr names the attribute that declares a prefix ("" is the default namespace).
func nsAttr(prefix string) string {
	if prefix == "" {
		return "xmlns"
	}
	return "xmlns:" + prefix
}

var tagName = regexp.MustCompile(`^<[^\s/>]+`)

// withNS inserts inherited namespace declarations the child does not make itself.
func withNS(raw []byte, t xml.StartElement, inherit map[string]string) []byte {
	own := map[string]string{}
	collectNS(t, own)
	var names []string
	for n := range inherit {
		if _, ok := own[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var decls strings.Builder
	for _, n := range names {
		fmt.Fprintf(&decls, " %s=%q", n, inherit[n])
	}
	loc := tagName.FindIndex(raw)
	out := append([]byte{}, raw[:loc[1]]...)
	out = append(out, decls.String()...)
	return append(out, raw[loc[1]:]...)
}

// xmlFiles lists the XML files in a fixtures folder.
func xmlFiles(elem ...string) []string {
	entries, err := os.ReadDir(fixtures.Path(elem...))
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".xml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
